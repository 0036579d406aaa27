"""Every error reaches the user as one `Error:` line with exit 1, with the real dnf,
including those raised while a command is configured: cluster.conf that is garbled,
not UTF-8, a symbolic link inside an image root or names a bad role; a node state
directory or lock that is not what it must be; a bad --role; an unwritable --output."""
import os
import shutil

import pytest

CONF = "etc/dnf/plugins/cluster.conf"


def one_error(result):
    assert result.rc == 1, result
    errors = [l for l in result.err.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.err + result.out, result
    return errors[0]


def write_bytes(node, rel, data):
    path = node.path(rel)
    if os.path.lexists(path):
        os.remove(path)
    with open(path, "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("conf,message", [
    (b"[main]\nenabled=1\nrole = ../x\n", "cluster.conf: invalid role '../x'"),
    (b"role = compute\n", "Missing section header"),
    (b"[main]\nenabled=1\nrole = comp\xffute\n", "cluster.conf: not UTF-8 text"),
    (b"[main]\nenabled=1\nrole = a\nrole = b\n", "option 'role' in section 'main' already exists"),
    (b"[main]\nenabled=1\nrole = compute\nprofile_repo = a b\n", "cluster.conf: invalid profile_repo 'a b'"),
], ids=["role ../x", "no section", "not utf-8", "duplicate", "bad profile_repo"])
def test_bad_cluster_conf_is_one_line(site, conf, message):
    node = site.node("compute")
    write_bytes(node, CONF, conf)
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status"), ("cluster-node", "sync", "--check")):
        assert message in one_error(node.dnf(*args, check=False))
    assert node.installed() == {}


def test_cluster_conf_behind_a_symbolic_link_in_an_image_root(site, tmp_path):
    node = site.node("compute")
    outside = str(tmp_path / "host-file")
    with open(outside, "w") as handle:
        handle.write("[main]\nenabled=1\nrole = gpu\n")
    os.remove(node.path(CONF))
    os.symlink(outside, node.path(CONF))
    # dnf reads the plugin's own configuration from pluginconfpath itself; ours must
    # not follow a link out of the image root
    error = one_error(node.dnf("cluster-node", "status", check=False))
    assert "cluster.conf: refusing to follow a symbolic link" in error
    assert node.installed() == {}


def test_a_bad_role_option_is_one_line(site):
    node = site.node("compute")
    assert "invalid role '../x'" in one_error(node.dnf("cluster-node", "status", "--role", "../x", check=False))


def test_state_directory_and_lock_of_the_wrong_kind_are_one_line(site):
    node = site.node("compute")
    state_dir = node.path("var/lib/dnf/cluster")
    os.makedirs(os.path.dirname(state_dir), exist_ok=True)
    with open(state_dir, "w") as handle:
        handle.write("not a directory\n")
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        assert "var/lib/dnf/cluster: the node state directory is not a directory" in one_error(
            node.dnf(*args, check=False))
    os.remove(state_dir)
    os.makedirs(os.path.join(state_dir, "sync.lock"))
    assert "sync.lock: cannot open the sync lock: Is a directory" in one_error(
        node.dnf("-y", "cluster-node", "sync", check=False))
    shutil.rmtree(state_dir)
    os.makedirs(os.path.join(state_dir, "state.json"))
    for args in (("-y", "cluster-node", "sync"), ("cluster-node", "status")):
        assert "state.json: the node state is not a regular file" in one_error(node.dnf(*args, check=False))
    assert node.installed() == {}


def test_an_unwritable_output_is_one_line(site, tmp_path):
    error = one_error(site.master.dnf("cluster-master", "publish", "--roles", site.roles, "--repo-dir", site.tree,
                                      "--output", str(tmp_path / "no" / "such" / "profile.json"), check=False))
    assert "no/such/profile.json: No such file or directory" in error


def test_an_error_after_the_transaction_is_one_line(site):
    """A package whose scriptlet swaps the node state directory for a symbolic link:
    the sync's record after the transaction is refused, as one line, exit 1; the next
    sync refuses up front until an admin puts the directory back."""
    from cluster_testkit.extra import Pkg, build_repo
    build_repo(os.path.join(site.www, "evil"), [Pkg("swap-state", post_lua=(
        'os.rename("/var/lib/dnf/cluster", "/var/lib/dnf/cluster.moved") '
        'posix.symlink("/var/lib/dnf/cluster.moved", "/var/lib/dnf/cluster")'))])
    site.master.add_repo("evil", "{}/evil/".format(site.url))
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, swap-state]")
    site.publish()
    node = site.node("compute")
    node.add_repo("evil", "{}/evil/".format(site.url))
    error = one_error(node.dnf("-y", "cluster-node", "sync", check=False))
    assert "var/lib/dnf/cluster: the node state directory is a symbolic link; refusing" in error
    assert "swap-state" in node.installed()


def test_a_misspelled_command_or_subcommand_is_one_line_without_the_usage(make_root):
    """dnf 4's parser of a command's positional arguments printed its usage (every dnf
    option, 20 to 35 lines) before the error; `dnf-cluster install foo` was told to try
    `dnf-cluster install 'dnf-command(install)'`. Now one line each, exit 2, as dnf-cluster
    says it on libdnf5; --help still shows every option."""
    import sys
    from cluster_testkit import REPO_ROOT
    node = make_root("node")
    node.set_role("compute")
    cluster = [sys.executable, os.path.join(REPO_ROOT, "bin", "dnf-cluster"), "--backend", "dnf4"] + \
        node.dnf_args()[1:]
    for argv, line in (
            (node.dnf_args("cluster-node", "synk"),
             "dnf cluster-node: error: argument subcommand: invalid choice: 'synk' (choose from 'sync', 'status')"),
            (node.dnf_args("cluster-master", "pubish", "--repo-dir", "/nonexistent"),
             "dnf cluster-master: error: argument subcommand: invalid choice: 'pubish' (choose from 'publish', "
             "'history', 'rollback', 'kickstart', 'status', 'sync', 'services')"),
            (node.dnf_args("cluster-node", "sync", "--bogus"), "dnf cluster-node: error: unrecognized arguments: --bogus"),
            (cluster + ["node", "synk"], "dnf-cluster cluster-node: error: argument subcommand: invalid choice: "
                                         "'synk' (choose from 'sync', 'status')"),
            (cluster + ["install", "foo"], "dnf-cluster: error: no such command 'install' (node, group, master; "
                                           "see dnf-cluster --help)"),
            (cluster + ["nod", "sync"], "dnf-cluster: error: no such command 'nod' (node, group, master; see "
                                        "dnf-cluster --help)")):
        result = node.run(argv, check=False)
        assert result.rc == 2 and result.out == "" and result.err.splitlines() == [line], result
    helped = node.dnf("cluster-master", "--help")
    assert "--wave-size" in helped.out and "--republish" in helped.out
    assert node.installed() == {} and not os.path.exists(node.path("var/lib/dnf/cluster"))


def test_enabled_that_is_no_boolean_is_one_line_for_every_dnf_command(site):
    """dnf's plugin loader reads `enabled` with getboolean(): `enabled = abc` ended every
    dnf command, cluster or not, in a traceback. Now one line names the file and line,
    through dnf and through dnf-cluster."""
    node = site.node("compute")
    write_bytes(node, CONF, b"[main]\n# switched on\nenabled = abc\nrole = compute\n")
    message = "cluster.conf:3: enabled = 'abc' is not a boolean (want 1 or 0, yes or no, true or false, on or off)"
    for run in (lambda: node.dnf("cluster-node", "status", check=False),
                lambda: node.dnf("-y", "cluster-node", "sync", check=False),
                lambda: node.dnf("repolist", check=False),
                lambda: node.cluster("node", "status", check=False)):
        result = run()
        assert message in one_error(result), result
    assert node.installed() == {}
    write_bytes(node, CONF, b"[main]\nenabled = Yes\nrole = compute\n")
    assert node.dnf("cluster-node", "status", check=False).rc in (0, 100)


def test_unknown_key_in_cluster_conf_is_a_warning_naming_it(site):
    """`rol = compute` only said "this node has no role": the warning names the key, its
    line and the keys cluster.conf knows; a known role still works past one."""
    node = site.node("compute")
    known = "(known: enabled, role, profile_repo, protected, max_remove, channel)"
    write_bytes(node, CONF, b"[main]\nenabled = 1\nrol = compute\n")
    result = node.dnf("cluster-node", "status", check=False)
    one_error(result)
    assert "cluster.conf:3: unknown key 'rol' in [main], ignored " + known in result.err, result
    write_bytes(node, CONF, b"[main]\nenabled = 1\nrole = compute\nmax_removal = 3\n")
    for args in (("cluster-node", "status", "--json"), ("-y", "cluster-node", "sync")):
        result = node.dnf(*args, check=False)
        assert result.rc in (0, 100) and "Traceback" not in result.err, result
        warnings = [l for l in result.err.splitlines() if "unknown key" in l]
        assert len(warnings) == 1 and "cluster.conf:4: unknown key 'max_removal' in [main]" in warnings[0], result
