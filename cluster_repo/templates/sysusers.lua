-- The %pretrans, %pre and %posttrans of a metapackage with `sysusers:` (cluster-users):
-- make the cluster's fixed service ids win, whatever order rpm installs the packages
-- of a transaction in. The real munge and slurm create their accounts in their own %pre
-- with dynamic ids (useradd -r, or rpm >= 4.19 from their sysusers.d files), and nothing
-- can order cluster-users before them.
--
-- render() in cluster_repo/metapkg.py prepends to this file, for each scriptlet,
--   local PHASE = "pretrans" | "pre" | "posttrans"
--   local PACKAGE = "cluster-users"
--   local ACCOUNTS = { {name=, uid= (nil: group only), gid=, gecos=, home=, shell=, paths={...}}, ... }
-- and leaves out the lines that are only comments.
--
-- What happens:
--   * an account missing before the transaction is created with its fixed ids
--     (groupadd -r -g, useradd -r -u -g): in pretrans where the root already has
--     /etc/passwd, /etc/group and shadow-utils (a live node, an image with a base),
--     otherwise in pre, which runs after them (Requires(pre): setup, shadow-utils); so
--     a package whose %pre runs later finds it and keeps it (getent || useradd);
--   * an account a package created EARLIER IN THIS TRANSACTION with another id (munge's
--     %pre ran before ours) is renumbered (groupmod -g, usermod -u -g), and what the old
--     ids own under the account's `paths` is re-owned: nothing has run as it yet;
--     posttrans re-owns again (rpm may have laid down later files with the id it looked
--     up before) and fails loudly if an account does not end with its fixed ids;
--   * an account that existed BEFORE the transaction with other ids is refused in
--     pretrans, with the commands that fix it: a live account may have running
--     processes and files outside its package's directories (spool, NFS, shared state),
--     so it is not renumbered behind the admin's back.
--
-- Accounts change only through shadow-utils' groupadd, useradd, groupmod and usermod,
-- which take the account files' locks (lckpwdf and /etc/passwd.lock ...), write shadow
-- and gshadow entries and keep backups; this file only reads /etc/passwd and /etc/group.
-- How the tools run, in the scriptlet's own Lua (no shell: one spec for EL8 to Fedora):
--   * rpm >= 4.15 (EL9, EL10, Fedora): rpm.execute, rpm's supported way to run a
--     program from a Lua scriptlet (Fedora's scriptlet guidelines; no fork of rpm itself);
--   * EL8's rpm 4.14.3, which has no rpm.execute: posix.fork, posix.exec and posix.wait,
--     the pattern EPEL 8 specs use in Lua. Its posix.wait gives no exit status, so
--     every change is checked by reading the files again, on every rpm.
-- A `%pre -p /bin/sh` with `getent || groupadd -g` would do for pre alone, but pretrans
-- (before any package) and the state pretrans hands to pre and posttrans need Lua; one
-- Lua path keeps a single spec for all targets.
-- rpm keeps one Lua state per process, so the global CLUSTER_USERS_STATE carries what
-- pretrans saw to pre and posttrans. No percent sign anywhere: rpm expands macros in
-- scriptlets. Limits: only /etc/passwd and /etc/group are read (not LDAP/SSSD).

local PW, GR = "/etc/passwd", "/etc/group"
local TOOLS = "/usr/sbin/"

local function fail(msg)
  error(PACKAGE .. ": " .. msg, 0)
end

local function exists(path)
  return posix.access(path) ~= nil
end

local function readlines(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local lines = {}
  for line in f:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  f:close()
  return lines
end

local function split(line)
  local t, start = {}, 1
  while true do
    local i = string.find(line, ":", start, true)
    if not i then
      t[#t + 1] = string.sub(line, start)
      return t
    end
    t[#t + 1] = string.sub(line, start, i - 1)
    start = i + 1
  end
end

local function find(lines, name)
  for i, line in ipairs(lines or {}) do
    local f = split(line)
    if f[1] == name then return i, f end
  end
  return nil
end

-- the entry other than `name` that holds `id` in column 3 (uid in passwd, gid in group)
local function holder(lines, id, name)
  for _, line in ipairs(lines or {}) do
    local f = split(line)
    if f[1] ~= name and tonumber(f[3]) == id then return f[1] end
  end
  return nil
end

local function show(id)
  return tostring(math.tointeger(id) or id)
end

local function snapshot()
  local pw, gr = readlines(PW), readlines(GR)
  local snap = {}
  for _, a in ipairs(ACCOUNTS) do
    local _, u = find(pw, a.name)
    local _, g = find(gr, a.name)
    snap[a.name] = {uid = u and tonumber(u[3]), ugid = u and tonumber(u[4]), gid = g and tonumber(g[3])}
  end
  return snap
end

local function existed_before(a)
  local st = CLUSTER_USERS_STATE
  if not st then return true end      -- no pretrans seen in this process: be conservative
  local b = st.before[a.name]
  return b.uid ~= nil or b.gid ~= nil
end

local function refuse(a, what, have)
  local fix
  if a.uid then
    fix = "groupmod -g " .. a.gid .. " " .. a.name .. "; usermod -u " .. a.uid .. " -g " .. a.gid .. " "
          .. a.name .. "; find / -xdev -uid " .. show(have) .. " -exec chown -h " .. a.uid .. " {} +; "
          .. "find / -xdev -gid " .. show(have) .. " -exec chgrp -h " .. a.gid .. " {} +"
  else
    fix = "groupmod -g " .. a.gid .. " " .. a.name .. "; find / -xdev -gid " .. show(have)
          .. " -exec chgrp -h " .. a.gid .. " {} +"
  end
  fail(what .. " " .. a.name .. " exists with id " .. show(have) .. ", but the cluster uses "
       .. (a.uid and ("uid " .. a.uid .. " / ") or "") .. "gid " .. a.gid .. " on every node. An account in use"
       .. " is not renumbered behind your back: stop what runs as " .. a.name .. ", then " .. fix
       .. " (on shared file systems too), and install " .. PACKAGE .. " again")
end

-- chown what the old ids own under `paths` (symbolic links are left alone)
local function reown(paths, olduid, newuid, oldgid, newgid, depth)
  depth = depth or 0
  if depth > 8 then return end
  for _, p in ipairs(paths) do
    if posix.readlink(p) == nil and exists(p) then
      local st = posix.stat(p)
      if st then
        local u, g = st.uid, st.gid
        local nu = (olduid and u == olduid) and newuid or u
        local ng = (oldgid and g == oldgid) and newgid or g
        if nu ~= u or ng ~= g then posix.chown(p, nu, ng) end
        if st.type == "directory" then
          local kids = {}
          for _, n in ipairs(posix.dir(p) or {}) do
            if n ~= "." and n ~= ".." then kids[#kids + 1] = p .. "/" .. n end
          end
          reown(kids, olduid, newuid, oldgid, newgid, depth + 1)
        end
      end
    end
  end
end

local function renumbered(st, a)
  st.renumbered[a.name] = st.renumbered[a.name] or {}
  return st.renumbered[a.name]
end

-- run one of shadow-utils' tools (TOOLS .. argv[1]) in the root rpm runs us in
local function tool(argv)
  local path = TOOLS .. argv[1]
  local args = {table.unpack(argv, 2)}
  if rpm.execute then
    local ok = rpm.execute(path, table.unpack(args))
    return ok == 0 or ok == true
  end
  local pid = posix.fork()
  if pid == 0 then
    posix.exec(path, table.unpack(args))
    if posix._exit then posix._exit(127) end
    os.exit(127)
  elseif pid == nil or pid < 0 then
    return false
  end
  posix.wait(pid)
  return true                      -- no status on rpm 4.14: the callers read the files again
end

local function change(argv, check, what)
  tool(argv)
  if not check() then
    fail(table.concat(argv, " ") .. " did not " .. what .. " (see its message above; another"
         .. " program may hold the account files' lock: install " .. PACKAGE .. " again when it is done)")
  end
end

local function group_has(name, gid)
  return function()
    local _, g = find(readlines(GR), name)
    return g ~= nil and tonumber(g[3]) == gid
  end
end

local function user_has(name, uid, gid)
  return function()
    local _, u = find(readlines(PW), name)
    return u ~= nil and tonumber(u[3]) == uid and tonumber(u[4]) == gid
  end
end

local function ensure_group(a, st)
  local gr = readlines(GR)
  local i, f = find(gr, a.name)
  if not i then
    local other = holder(gr, a.gid, a.name)
    if other then fail("gid " .. a.gid .. " for " .. a.name .. " is taken by group " .. other) end
    change({"groupadd", "-r", "-g", tostring(a.gid), a.name}, group_has(a.name, a.gid),
           "create group " .. a.name)
    return
  end
  local have = tonumber(f[3])
  if have == a.gid then return end
  if existed_before(a) then refuse(a, "group", have) end
  local other = holder(gr, a.gid, a.name)
  if other then fail("gid " .. a.gid .. " for " .. a.name .. " is taken by group " .. other) end
  -- groupmod also moves the users whose primary group it was
  change({"groupmod", "-g", tostring(a.gid), a.name}, group_has(a.name, a.gid),
         "renumber group " .. a.name)
  renumbered(st, a).gid = have
end

local function ensure_user(a, st)
  local pw = readlines(PW)
  local i, f = find(pw, a.name)
  if not i then
    local other = holder(pw, a.uid, a.name)
    if other then fail("uid " .. a.uid .. " for " .. a.name .. " is taken by user " .. other) end
    change({"useradd", "-r", "-M", "-u", tostring(a.uid), "-g", tostring(a.gid), "-d", a.home,
            "-s", a.shell, "-c", a.gecos, a.name}, user_has(a.name, a.uid, a.gid), "create user " .. a.name)
    return
  end
  local have, havegid = tonumber(f[3]), tonumber(f[4])
  if have == a.uid and havegid == a.gid then return end
  if existed_before(a) then refuse(a, "user", have) end
  local other = holder(pw, a.uid, a.name)
  if other then fail("uid " .. a.uid .. " for " .. a.name .. " is taken by user " .. other) end
  change({"usermod", "-u", tostring(a.uid), "-g", tostring(a.gid), a.name}, user_has(a.name, a.uid, a.gid),
         "renumber user " .. a.name)
  if have ~= a.uid then renumbered(st, a).uid = have end
end

local function ready()
  return exists(PW) and exists(GR) and posix.access(TOOLS .. "useradd", "x") ~= nil
end

local function run(phase)
  if phase == "pretrans" then
    CLUSTER_USERS_STATE = {before = snapshot(), renumbered = {}}
    for _, a in ipairs(ACCOUNTS) do
      local b = CLUSTER_USERS_STATE.before[a.name]
      if b.gid ~= nil and b.gid ~= a.gid then refuse(a, "group", b.gid) end
      if a.uid and b.uid ~= nil and (b.uid ~= a.uid or b.ugid ~= a.gid) then refuse(a, "user", b.uid) end
    end
    if not ready() then return end     -- an empty root, or no shadow-utils yet: pre does it
  end
  local st = CLUSTER_USERS_STATE or {before = snapshot(), renumbered = {}}
  CLUSTER_USERS_STATE = st
  if not ready() then
    fail("no " .. PW .. ", " .. GR .. " or " .. TOOLS .. "useradd in this root: setup and shadow-utils"
         .. " must be installed first")
  end
  for _, a in ipairs(ACCOUNTS) do
    ensure_group(a, st)
    if a.uid then ensure_user(a, st) end
  end
  for _, a in ipairs(ACCOUNTS) do
    local r = st.renumbered[a.name]
    if r then reown(a.paths, r.uid, a.uid, r.gid, a.gid) end
  end
  if phase == "posttrans" then
    for _, a in ipairs(ACCOUNTS) do
      local ok = group_has(a.name, a.gid)()
      if a.uid then ok = ok and user_has(a.name, a.uid, a.gid)() end
      if not ok then
        fail("after the transaction " .. a.name .. " does not have its fixed ids "
             .. (a.uid and (a.uid .. ":") or "") .. a.gid)
      end
    end
  end
end

run(PHASE)
