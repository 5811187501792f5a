// qcompress launch --nproc N [--master-port P] train ...: several local ranks without torchrun.
// Each child is this program run with the rest of the command line and the variables torchrun
// sets (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Ctrl-C and
// SIGTERM are forwarded to every rank (a second one kills them); when a rank fails the others
// get SIGTERM, then SIGKILL after a grace period; the launcher exits with the failing rank's status.
#include "cli.h"
#include "common/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<int> g_signal{0}, g_signalCount{0};

extern "C" void onLauncherSignal(int sig) {
    g_signal.store(sig);
    g_signalCount.fetch_add(1);
}

// A TCP port free on the loopback interface right now (the kernel picks it).
int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) qcw::fail("launch", std::string("cannot open a socket to find a free port: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        qcw::fail("launch", std::string("cannot find a free port: ") + std::strerror(errno));
    }
    const int port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

std::string describe(int status) {
    if (WIFSIGNALED(status))
        return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exitCodeOf(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

}  // namespace

QCW_COMMAND(66) {
    struct Opts {
        int nproc = 2, port = 0, threads = 0;
        double grace = 10.0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("launch", "Run a command (train) as N local data-parallel ranks, like torchrun");
    sub->add_option("--nproc", o->nproc, "Processes (ranks) on this machine (default 2)")->check(CLI::Range(1, 512));
    sub->add_option("--master-port", o->port, "TCP port of the rendezvous on 127.0.0.1 (default: a free one)")
        ->check(CLI::Range(1, 65535));
    sub->add_option(
           "--threads-per-proc", o->threads,
           "OMP_NUM_THREADS of each rank (default: the cores divided by --nproc, unless OMP_NUM_THREADS is set)")
        ->check(CLI::Range(0, 4096));
    sub->add_option("--grace", o->grace,
                    "Seconds the other ranks get to stop after one fails, before SIGKILL (default 10)")
        ->check(CLI::Range(0.0, 3600.0));
    sub->prefix_command();
    sub->footer("Example: qcompress launch --nproc 2 train --student MODEL --data DIR --out OUT --batch 8");
    sub->callback([o, sub] {
        std::vector<std::string> rest = sub->remaining();
        if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
        if (rest.empty()) qcw::fail("launch", "no command given (e.g. qcompress launch --nproc 2 train --student ...)");
        if (rest.front() == "launch") qcw::fail("launch", "cannot launch itself");
        const int port = o->port > 0 ? o->port : freePort();
        int threads = o->threads;
        if (threads == 0 && !std::getenv("OMP_NUM_THREADS")) {
            const unsigned hw = std::thread::hardware_concurrency();
            threads = std::max(1, static_cast<int>(hw == 0 ? 1 : hw) / o->nproc);
        }
        std::string self = "/proc/self/exe";
        {
            char buf[4096];
            const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
            if (n > 0) self.assign(buf, static_cast<std::size_t>(n));
        }

        struct sigaction sa {};
        sa.sa_handler = onLauncherSignal;
        sigemptyset(&sa.sa_mask);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);

        std::vector<pid_t> pids(static_cast<std::size_t>(o->nproc), -1);
        std::vector<bool> alive(pids.size(), false);
        for (int r = 0; r < o->nproc; ++r) {
            const pid_t pid = ::fork();
            if (pid < 0) {
                for (std::size_t i = 0; i < pids.size(); ++i)
                    if (alive[i]) ::kill(pids[i], SIGKILL);
                qcw::fail("launch",
                          std::string("cannot start rank ") + std::to_string(r) + ": " + std::strerror(errno));
            }
            if (pid == 0) {
                ::setpgid(0, 0);  // signals reach the ranks through the launcher only, once each
                for (int s : {SIGINT, SIGTERM, SIGHUP}) ::signal(s, SIG_DFL);
                ::setenv("RANK", std::to_string(r).c_str(), 1);
                ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
                ::setenv("WORLD_SIZE", std::to_string(o->nproc).c_str(), 1);
                ::setenv("LOCAL_WORLD_SIZE", std::to_string(o->nproc).c_str(), 1);
                ::setenv("GROUP_RANK", "0", 1);
                ::setenv("MASTER_ADDR", "127.0.0.1", 1);
                ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
                ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
                if (threads > 0) ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
                std::vector<char*> argv;
                argv.push_back(const_cast<char*>(self.c_str()));
                for (const auto& a : rest) argv.push_back(const_cast<char*>(a.c_str()));
                argv.push_back(nullptr);
                ::execv(self.c_str(), argv.data());
                std::fprintf(stderr, "qcompress launch: rank %d: cannot run %s: %s\n", r, self.c_str(),
                             std::strerror(errno));
                ::_exit(127);
            }
            pids[static_cast<std::size_t>(r)] = pid;
            alive[static_cast<std::size_t>(r)] = true;
        }
        std::fprintf(stderr, "qcompress launch: %d ranks, rendezvous at 127.0.0.1:%d%s\n", o->nproc, port,
                     threads > 0 ? (", " + std::to_string(threads) + " threads each").c_str() : "");

        int failedRank = -1, failedStatus = 0, forwarded = 0, running = o->nproc, firstStatus = 0;
        bool interrupted = false;
        using Clock = std::chrono::steady_clock;
        Clock::time_point killAt{};
        bool killArmed = false;
        auto signalAll = [&](int sig) {
            for (std::size_t i = 0; i < pids.size(); ++i)
                if (alive[i]) ::kill(pids[i], sig);
        };
        while (running > 0) {
            const int count = g_signalCount.load();
            if (count > forwarded) {
                interrupted = true;
                if (forwarded == 0 && count == 1) {
                    std::fprintf(stderr, "qcompress launch: forwarding signal %d to every rank (again to kill them)\n",
                                 g_signal.load());
                    signalAll(g_signal.load());
                } else {
                    signalAll(SIGKILL);
                }
                forwarded = count;
            }
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid > 0) {
                for (std::size_t i = 0; i < pids.size(); ++i) {
                    if (pids[i] != pid || !alive[i]) continue;
                    alive[i] = false;
                    --running;
                    const bool bad = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                    if (bad && firstStatus == 0) firstStatus = status;
                    if (bad && failedRank < 0 && !interrupted) {
                        failedRank = static_cast<int>(i);
                        failedStatus = status;
                        if (running > 0) {
                            std::fprintf(stderr, "qcompress launch: rank %zu %s; stopping the other ranks\n", i,
                                         describe(status).c_str());
                            signalAll(SIGTERM);
                            killAt = Clock::now() + std::chrono::milliseconds(static_cast<long long>(o->grace * 1000));
                            killArmed = true;
                        }
                    }
                }
                continue;
            }
            if (pid < 0 && errno == ECHILD) break;
            if (killArmed && Clock::now() >= killAt) {
                signalAll(SIGKILL);
                killArmed = false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (failedRank >= 0) {
            std::fprintf(stderr, "qcompress launch: rank %d %s\n", failedRank, describe(failedStatus).c_str());
            std::fflush(stderr);
            std::exit(exitCodeOf(failedStatus));
        }
        if (firstStatus != 0) {
            std::fflush(stderr);
            std::exit(exitCodeOf(firstStatus));
        }
    });
}
