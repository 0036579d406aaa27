-- The %pre of a stand-in package whose real counterpart creates a system account
-- (base/packages.yaml `creates_user:`), doing what the real munge and slurm do:
--
--   getent group USER >/dev/null || groupadd -r USER
--   getent passwd USER >/dev/null || useradd -r -g USER -d HOME -s /sbin/nologin -c COMMENT USER
--
-- groupadd -r and useradd -r take the highest free id from SYS_GID_MAX/SYS_UID_MAX (999)
-- down to SYS_GID_MIN/SYS_UID_MIN (201), as shadow-utils does with Fedora's and EL's
-- login.defs, and write /etc/group, /etc/gshadow, /etc/passwd and /etc/shadow; like them,
-- this fails where the root has no /etc/passwd or /etc/group yet (the setup package
-- ships them). Stand-in roots have no shell and no shadow-utils binaries, so this is Lua,
-- run by rpm itself inside the root (rpm 4.14, EL8's, included: io and os only).
-- cluster_testkit/standin.py prepends
--   local USER, COMMENT, HOME = "munge", "Runs Uid 'N' Gid Emporium", "/run/munge"
-- and drops these comment lines. No percent sign anywhere: rpm expands macros in scriptlets.

local function lines(path)
  local f = io.open(path, "r")
  if not f then
    error(USER .. ": cannot open " .. path .. " (useradd needs the setup package first)", 0)
  end
  local out = {}
  for line in f:lines() do out[#out + 1] = line end
  f:close()
  return out
end

local function field(line, n)
  local i = 0
  for value in (line .. ":"):gmatch("([^:]*):") do
    i = i + 1
    if i == n then return value end
  end
end

local function lookup(path, name)
  for _, line in ipairs(lines(path)) do
    if field(line, 1) == name then return line end
  end
end

local function free_id(path)
  local used = {}
  for _, line in ipairs(lines(path)) do used[tonumber(field(line, 3)) or -1] = true end
  for id = 999, 201, -1 do
    if not used[id] then return id end
  end
  error(USER .. ": no free system id left in " .. path, 0)
end

local function append(path, line)
  local f = io.open(path, "a")
  if not f then return false end
  f:write(line, "\n")
  f:close()
  return true
end

if not lookup("/etc/group", USER) then
  append("/etc/group", USER .. ":x:" .. free_id("/etc/group") .. ":")
  append("/etc/gshadow", USER .. ":!::")
end
if not lookup("/etc/passwd", USER) then
  local gid = field(lookup("/etc/group", USER), 3)
  append("/etc/passwd", USER .. ":x:" .. free_id("/etc/passwd") .. ":" .. gid .. ":" .. COMMENT .. ":"
         .. HOME .. ":/sbin/nologin")
  append("/etc/shadow", USER .. ":!!:" .. math.floor(os.time() / 86400) .. "::::::")
end
