"""`cluster-node status` and `cluster-node sync --check` give the same verdict, with the
real dnf: both resolve the same plan (pins, marks, and the rule that keeps a dropped
package a hand-installed one still needs), so a kept package is not drift for either,
on every drift case: missing, wrong version, extra, and extra but still needed."""
import json

from dnf_plugin_cluster.head import publish, repodata


def verdicts(node):
    """(exit code, drift) of status and of sync --check; they must agree."""
    status = node.dnf("cluster-node", "status", "--json", check=False)
    check = node.dnf("cluster-node", "sync", "--check", "--json", check=False)
    assert status.rc in (0, 100) and check.rc in (0, 100), (status, check)
    plan = check.json["plan"]
    from_check = {"missing": [i["name"] for i in plan["install"]],
                  "wrong_version": [{"name": i["name"], "installed": i["from"], "locked": i["to"], "pinned": i["to"]}
                                    for i in plan["upgrade"] + plan["downgrade"] if i.get("why") != "latest"],
                  "outdated": [{"name": i["name"], "installed": i["from"], "latest": i["to"]}
                               for i in plan["upgrade"] if i.get("why") == "latest"],
                  "remove": plan["remove"], "extra": plan["remove"]}
    assert (status.rc, status.json["drift"]) == (check.rc, from_check), (status, check)
    assert status.json["kept"] == plan["kept"]
    assert check.json["result"] == ("drift" if check.rc == 100 else "in-sync")
    return status.rc, status.json


def test_status_and_check_agree_on_every_drift_case(site):
    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: [cluster-apps-bio, fftw-openmpi]")
    site.publish()
    node = site.node("compute")

    rc, data = verdicts(node)                                      # missing
    assert rc == 100 and "cluster-node" in data["drift"]["missing"]
    node.dnf("-y", "cluster-node", "sync")
    assert verdicts(node)[0] == 0                                  # in sync

    node.dnf("-y", "install", "gromacs-openmpi")                   # by hand; needs fftw-openmpi
    site.edit_role("compute", "packages: [cluster-apps-bio, fftw-openmpi]", "packages: [cluster-apps-bio]")
    site.publish()
    rc, data = verdicts(node)                                      # extra, but still needed: no drift
    assert rc == 0 and data["kept"] == [{"name": "fftw-openmpi", "reason": "still needed by gromacs-openmpi"}]

    site.edit_role("compute", "packages: [cluster-apps-bio]", "packages: []")
    site.publish()
    rc, data = verdicts(node)                                      # extra
    assert rc == 100 and data["drift"]["extra"] == ["cluster-apps-bio"]
    node.dnf("-y", "cluster-node", "sync")
    assert verdicts(node)[0] == 0

    good = publish.current(site.tree)                              # wrong version
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE,
                         json.dumps(dict(good, pins={"openmpi": "4.1.5-1.el9"})).encode())
    rc, data = verdicts(node)
    assert rc == 100 and data["drift"]["wrong_version"] == [
        {"name": "openmpi", "installed": "4.1.6-1.el9", "locked": "4.1.5-1.el9", "pinned": "4.1.5-1.el9"}]
    node.dnf("-y", "cluster-node", "sync")
    assert verdicts(node)[0] == 0

    latest = json.loads(json.dumps(good))                          # outdated (update: latest)
    latest["roles"]["compute"].update(update="latest")
    latest["roles"]["compute"]["arches"]["x86_64"]["packages"].append("openmpi")
    for md in publish.arch_repos(site.tree).values():
        repodata.replace(md, "cluster", publish.PROFILE_FILE, json.dumps(latest).encode())
    rc, data = verdicts(node)
    assert rc == 100 and data["drift"]["outdated"] == [
        {"name": "openmpi", "installed": "4.1.5-1.el9", "latest": "4.1.6-1.el9"}]
    node.dnf("-y", "cluster-node", "sync")
    assert verdicts(node)[0] == 0
