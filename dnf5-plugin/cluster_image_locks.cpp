// libdnf5 plugin "cluster-image-locks": plain dnf5 commands run from the head node on an image root with the
// host's configuration (`dnf5 --use-host-config --installroot=IMG upgrade`) keep the image's version locks.
//
// libdnf5 reads the version locks from one file, VERSIONLOCK_CONF_FILENAME (/etc/dnf/versionlock.toml): the
// installroot's, unless use_host_config is set, then the host's (PackageSack::Impl::get_versionlock_config()
// in libdnf5/rpm/package_sack.cpp); no option names another file. So with --use-host-config the pins a sync
// wrote into IMG/etc/dnf/versionlock.toml were not read, and `upgrade` moved pinned packages. When the
// repositories have loaded (the repos_loaded hook, called after libdnf5 applied the host's file), this
// plugin has libdnf5 apply the image's file too, with libdnf5's own reading and rules
// (PackageSack::load_config_excludes_includes() with use_host_config off for that call), and adds the host's
// locks back: both hold, as on dnf 4 (the cluster plugin applies the image's list beside the host's).
//
// Enabled for installroots only (libdnf5-plugins/cluster-image-locks.conf: enabled = installroot-only); it
// does nothing without --use-host-config (libdnf5 reads the image's file then), nor with
// --disable-excludes=* (which lifts version locks too). The image's file must be a plain file of the root:
// no symbolic link on the way (IMG/etc, IMG/etc/dnf, the file), no FIFO or device, at most 4 MiB; anything
// else stops the command in one line naming the file, before libdnf5 reads it.
#include <libdnf5/base/base.hpp>
#include <libdnf5/conf/const.hpp>
#include <libdnf5/plugin/iplugin.hpp>
#include <libdnf5/rpm/package_sack.hpp>
#include <libdnf5/rpm/package_set.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

using namespace libdnf5;
namespace fs = std::filesystem;

namespace {

constexpr const char * PLUGIN_NAME{"cluster-image-locks"};
constexpr plugin::Version PLUGIN_VERSION{.major = 0, .minor = 1, .micro = 0};
constexpr PluginAPIVersion REQUIRED_PLUGIN_API_VERSION{.major = 2, .minor = 0};
constexpr const char * attrs[]{"author.name", "description", nullptr};
constexpr const char * attrs_value[]{
    "dnf-plugin-cluster", "an image root's own version locks hold under --use-host-config --installroot"};
// the largest versionlock.toml read (the project's bound for a text file of a root, files.MAX_TEXT)
constexpr off_t MAX_TEXT = 4 * 1024 * 1024;

std::exception_ptr last_exception;

[[noreturn]] void refuse(const fs::path & path, const std::string & why) {
    throw std::runtime_error("Error: " + path.string() + ": " + why + " (the image's version locks)");
}

// Whether the image has a version lock file, checked as the project reads files of a root (files.py): false
// when there is none; a link on the way, a file that is not a regular file or one too large is refused.
bool image_lock_file(const fs::path & root, const fs::path & path) {
    fs::path at = root;
    for (const auto & part : fs::path(VERSIONLOCK_CONF_FILENAME).relative_path()) {
        at /= part;
        struct stat st;
        if (lstat(at.c_str(), &st) != 0) {
            if (errno == ENOENT) {
                return false;
            }
            refuse(at, std::string("cannot read: ") + std::strerror(errno));
        }
        if (S_ISLNK(st.st_mode)) {
            refuse(at, "refusing to follow a symbolic link");
        }
    }
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return false;
        }
        refuse(path, errno == ELOOP ? "refusing to follow a symbolic link" : std::strerror(errno));
    }
    struct stat st;
    int got = fstat(fd, &st);
    close(fd);
    if (got != 0 || !S_ISREG(st.st_mode)) {
        refuse(path, "dnf5's version lock file is not a regular file");
    }
    if (st.st_size > MAX_TEXT) {
        refuse(path, "dnf5's version lock file is larger than " + std::to_string(MAX_TEXT) + " bytes; refusing");
    }
    return true;
}

// another library's message (toml11's spans several lines) on one line, runs of white space as one space
std::string one_line(const std::string & text) {
    std::string out;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
        } else {
            out += c;
        }
    }
    if (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

class ImageLocks final : public plugin::IPlugin {
public:
    ImageLocks(plugin::IPluginData & data, ConfigParser &) : IPlugin(data) {}

    PluginAPIVersion get_api_version() const noexcept override { return REQUIRED_PLUGIN_API_VERSION; }
    const char * get_name() const noexcept override { return PLUGIN_NAME; }
    plugin::Version get_version() const noexcept override { return PLUGIN_VERSION; }
    const char * const * get_attributes() const noexcept override { return attrs; }
    const char * get_attribute(const char * attribute) const noexcept override {
        for (std::size_t i = 0; attrs[i]; ++i) {
            if (std::strcmp(attribute, attrs[i]) == 0) {
                return attrs_value[i];
            }
        }
        return nullptr;
    }

    void repos_loaded() override {
        auto & base = get_base();
        auto & config = base.get_config();
        auto & host_config = config.get_use_host_config_option();
        const fs::path root = fs::path(config.get_installroot_option().get_value()).lexically_normal();
        if (!host_config.get_value() || root.relative_path().empty()) {
            return;                                         // libdnf5 reads the image's own file
        }
        const auto & disabled = config.get_disable_excludes_option().get_value();
        if (std::find(disabled.begin(), disabled.end(), "*") != disabled.end()) {
            return;                                         // version locks are lifted with every exclude
        }
        const fs::path path = root / fs::path(VERSIONLOCK_CONF_FILENAME).relative_path();
        if (!image_lock_file(root, path)) {
            return;
        }
        auto sack = base.get_rpm_package_sack();
        const rpm::PackageSet host_locks = sack->get_versionlock_excludes();
        // libdnf5 applies the image's file itself, as without --use-host-config; the host's locks go back on
        host_config.set(Option::Priority::RUNTIME, false);
        try {
            sack->load_config_excludes_includes();
        } catch (const std::exception & ex) {
            host_config.set(Option::Priority::RUNTIME, true);
            refuse(path, "cannot read: " + one_line(ex.what()));
        }
        host_config.set(Option::Priority::RUNTIME, true);
        if (!host_locks.empty()) {
            sack->add_versionlock_excludes(host_locks);
        }
    }
};

}  // namespace

PluginAPIVersion libdnf_plugin_get_api_version(void) {
    return REQUIRED_PLUGIN_API_VERSION;
}

const char * libdnf_plugin_get_name(void) {
    return PLUGIN_NAME;
}

plugin::Version libdnf_plugin_get_version(void) {
    return PLUGIN_VERSION;
}

plugin::IPlugin * libdnf_plugin_new_instance(
    [[maybe_unused]] LibraryVersion library_version, plugin::IPluginData & data, ConfigParser & parser) try {
    return new ImageLocks(data, parser);
} catch (...) {
    last_exception = std::current_exception();
    return nullptr;
}

void libdnf_plugin_delete_instance(plugin::IPlugin * plugin_object) {
    delete plugin_object;
}

std::exception_ptr * libdnf_plugin_get_last_exception(void) {
    return &last_exception;
}
