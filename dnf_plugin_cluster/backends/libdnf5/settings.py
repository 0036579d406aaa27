"""The package manager's settings from dnf5's command line (global options), as the
libdnf5 backend applies them to its Base."""
import os


class Settings(object):
    """What the command line says about the package manager (dnf5's global options)."""

    def __init__(self, installroot="/", config_file=None, releasever=None, forcearch=None, setopts=(),
                 cacheonly=False, repos=None, enable_repos=(), disable_repos=(), refresh=False,
                 gpgcheck=True, setvars=()):
        self.installroot = os.path.abspath(installroot or "/")
        self.config_file = config_file
        self.releasever = releasever
        self.forcearch = forcearch
        self.setopts = list(setopts)              # [(key, value)]; "repo.key" for repository options
        self.cacheonly = cacheonly
        self.repos = repos                        # --repo: only these (ids or globs)
        self.enable_repos = list(enable_repos)
        self.disable_repos = list(disable_repos)
        self.refresh = refresh
        self.gpgcheck = gpgcheck
        self.setvars = list(setvars)              # [(name, value)]: --setvar

    @property
    def main_setopts(self):
        return [(k, v) for k, v in self.setopts if "." not in k]

    @property
    def repo_setopts(self):
        return [tuple(k.rsplit(".", 1)) + (v,) for k, v in self.setopts if "." in k]

