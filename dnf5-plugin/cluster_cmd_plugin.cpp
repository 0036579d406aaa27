// dnf5 command plugin "cluster": registers `cluster-node`, `cluster-group` and `cluster-master`, each
// handing all of its arguments to `dnf-cluster --backend libdnf5 node|group|master ...` (the Python
// implementation, python3-dnf-plugin-cluster, on the libdnf5 backend). No logic here: dnf5 adds commands
// only through C++ plugins, and this is the smallest one that can.
//
// dnf5's argument parser rejects options it does not know, so the plugin hands over before it parses:
// when dnf5 registers the command (set_argument_parser), the plugin reads /proc/self/cmdline, finds the
// command word with the help of dnf5's own table of global options, and execs dnf-cluster with the
// global options (verbatim, dnf-cluster takes them anywhere) followed by the command's arguments. If that
// did not fire (the command was reached through a dnf5 alias), dnf5 parsed everything itself and
// pre_configure() rebuilds the options that matter from dnf5's configuration before handing over.
#include <dnf5/context.hpp>
#include <dnf5/iplugin.hpp>
#include <libdnf5/conf/option_string.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

using namespace dnf5;
using Priority = libdnf5::Option::Priority;

namespace {

constexpr const char * PLUGIN_NAME{"cluster"};
constexpr PluginVersion PLUGIN_VERSION{.major = 0, .minor = 1, .micro = 0};
constexpr PluginAPIVersion REQUIRED_PLUGIN_API_VERSION{.major = 2, .minor = 0};
constexpr const char * attrs[]{"author.name", "description", nullptr};
constexpr const char * attrs_value[]{"dnf-plugin-cluster", "cluster-node, cluster-group, cluster-master commands"};

[[noreturn]] void hand_over(const std::string & sub, const std::vector<std::string> & args) {
    std::vector<std::string> argv{DNF_CLUSTER_PATH, "--backend", "libdnf5", sub};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char *> cargv;
    for (auto & arg : argv) {
        cargv.push_back(arg.data());
    }
    cargv.push_back(nullptr);
    std::cout.flush();
    execv(DNF_CLUSTER_PATH, cargv.data());
    std::cerr << "dnf5 cluster plugin: cannot run " << DNF_CLUSTER_PATH << ": " << std::strerror(errno) << std::endl;
    _exit(1);
}

std::vector<std::string> own_argv() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv;
    for (std::size_t start = 0, end; start < all.size(); start = end + 1) {
        end = all.find('\0', start);
        if (end == std::string::npos) {
            end = all.size();
        }
        argv.emplace_back(all, start, end - start);
    }
    return argv;
}

// Index of the command word in argv (the first argument that is not a global option or its value), or 0.
std::size_t command_index(const std::vector<std::string> & argv, libdnf5::cli::ArgumentParser::Command & root) {
    auto takes_value = [&root](const std::string & long_name, char short_name) {
        for (auto * arg : root.get_named_args()) {
            if ((!long_name.empty() && arg->get_long_name() == long_name) ||
                (short_name && arg->get_short_name() == short_name)) {
                return arg->get_has_value();
            }
        }
        return false;
    };
    for (std::size_t i = 1; i < argv.size(); ++i) {
        const auto & arg = argv[i];
        if (arg == "--") {
            return 0;
        }
        if (arg.rfind("--", 0) == 0) {
            if (arg.find('=') == std::string::npos && takes_value(arg.substr(2), 0)) {
                ++i;
            }
        } else if (arg.size() > 1 && arg[0] == '-') {
            for (std::size_t j = 1; j < arg.size(); ++j) {
                if (takes_value("", arg[j])) {
                    if (j + 1 == arg.size()) {
                        ++i;  // value in the next argument
                    }
                    break;
                }
            }
        } else {
            return i;
        }
    }
    return 0;
}

class ClusterCommand : public Command {
public:
    ClusterCommand(Context & context, const char * name, const char * sub) : Command(context, name), sub(sub) {}

    void set_parent_command() override {
        get_session().get_argument_parser().get_root_command()->register_command(get_argument_parser_command());
    }

    void set_argument_parser() override {
        auto & parser = get_context().get_argument_parser();
        auto & cmd = *get_argument_parser_command();
        cmd.set_description("dnf-cluster " + sub + " (see dnf-cluster " + sub + " --help)");
        values = parser.add_new_values();
        auto * args = parser.add_new_positional_arg(
            "args",
            libdnf5::cli::ArgumentParser::PositionalArg::UNLIMITED,
            parser.add_init_value(std::make_unique<libdnf5::OptionString>(nullptr)),
            values);
        args->set_description("arguments for dnf-cluster " + sub);
        cmd.register_positional_arg(args);

        auto argv = own_argv();
        auto idx = command_index(argv, *parser.get_root_command());
        if (idx && argv[idx] == cmd.get_id()) {
            std::vector<std::string> rest(argv.begin() + 1, argv.begin() + static_cast<long>(idx));
            rest.insert(rest.end(), argv.begin() + static_cast<long>(idx) + 1, argv.end());
            hand_over(sub, rest);
        }
    }

    // Reached only when dnf5 parsed the whole command line: rebuild the global options that matter.
    void pre_configure() override {
        auto & ctx = get_context();
        auto & conf = ctx.get_base().get_config();
        auto vars = ctx.get_base().get_vars();
        auto cmdline = [](const libdnf5::Option & opt) { return opt.get_priority() >= Priority::COMMANDLINE; };
        std::vector<std::string> args;
        if (cmdline(conf.get_installroot_option())) {
            args.push_back("--installroot=" + conf.get_installroot_option().get_value());
        }
        if (cmdline(conf.get_config_file_path_option())) {
            args.push_back("--config=" + conf.get_config_file_path_option().get_value());
        }
        if (vars->contains("releasever") && vars->get("releasever").priority >= libdnf5::Vars::Priority::COMMANDLINE) {
            args.push_back("--releasever=" + vars->get_value("releasever"));
        }
        if (conf.get_ignorearch_option().get_value() && vars->get("arch").priority >= libdnf5::Vars::Priority::COMMANDLINE) {
            args.push_back("--forcearch=" + vars->get_value("arch"));
        }
        if (cmdline(conf.get_assumeyes_option()) && conf.get_assumeyes_option().get_value()) {
            args.push_back("-y");
        }
        for (const auto & [key, item] : conf.opt_binds()) {  // other --setopt=KEY=VALUE (and -C, --best ...)
            if (item.get_priority() >= Priority::COMMANDLINE && key != "installroot" && key != "config_file_path" &&
                key != "assumeyes" && key != "ignorearch") {
                args.push_back("--setopt=" + key + "=" + item.get_value_string());
            }
        }
        for (const auto & [key, value] : ctx.get_setopts()) {  // --setopt=REPO.KEY=VALUE
            args.push_back("--setopt=" + key + "=" + value);
        }
        if (ctx.get_comment()) {
            args.push_back(std::string("--comment=") + ctx.get_comment());
        }
        for (const auto & value : *values) {
            args.push_back(value->get_value_string());
        }
        hand_over(sub, args);
    }

    void run() override {}

private:
    std::string sub;
    std::vector<std::unique_ptr<libdnf5::Option>> * values{nullptr};
};

class ClusterCmdPlugin : public IPlugin {
public:
    using IPlugin::IPlugin;
    PluginAPIVersion get_api_version() const noexcept override { return REQUIRED_PLUGIN_API_VERSION; }
    const char * get_name() const noexcept override { return PLUGIN_NAME; }
    PluginVersion get_version() const noexcept override { return PLUGIN_VERSION; }
    const char * const * get_attributes() const noexcept override { return attrs; }
    const char * get_attribute(const char * attribute) const noexcept override {
        for (std::size_t i = 0; attrs[i]; ++i) {
            if (std::strcmp(attribute, attrs[i]) == 0) {
                return attrs_value[i];
            }
        }
        return nullptr;
    }
    std::vector<std::unique_ptr<Command>> create_commands() override {
        std::vector<std::unique_ptr<Command>> commands;
        commands.push_back(std::make_unique<ClusterCommand>(get_context(), "cluster-node", "node"));
        commands.push_back(std::make_unique<ClusterCommand>(get_context(), "cluster-group", "group"));
        commands.push_back(std::make_unique<ClusterCommand>(get_context(), "cluster-master", "master"));
        return commands;
    }
    void finish() noexcept override {}
};

std::exception_ptr last_exception;

}  // namespace

PluginAPIVersion dnf5_plugin_get_api_version(void) {
    return REQUIRED_PLUGIN_API_VERSION;
}

const char * dnf5_plugin_get_name(void) {
    return PLUGIN_NAME;
}

PluginVersion dnf5_plugin_get_version(void) {
    return PLUGIN_VERSION;
}

IPlugin * dnf5_plugin_new_instance([[maybe_unused]] ApplicationVersion application_version, Context & context) try {
    return new ClusterCmdPlugin(context);
} catch (...) {
    last_exception = std::current_exception();
    return nullptr;
}

void dnf5_plugin_delete_instance(IPlugin * plugin_object) {
    delete plugin_object;
}

std::exception_ptr * dnf5_plugin_get_last_exception(void) {
    return &last_exception;
}
