#pragma once
// Data-parallel training over PyTorch's distributed engine (c10d): a process group (Gloo on
// CPUs; NCCL where LibTorch has CUDA) over a TCPStore rendezvous, set up from the variables
// torchrun, `qcompress launch` or a Slurm script export (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT). Gradients are summed in flattened buckets (coalesced
// all-reduce). A watchdog thread per rank keeps a heartbeat in the store; a rank that dies
// or stops responding ends every rank within a bounded time with one line naming it.
// Internal to core (torch types).
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qcw::dist {

struct Env {
    int rank = 0, world = 1, localRank = 0;
    std::string masterAddr = "127.0.0.1";
    int masterPort = 29500;
    bool agentStore = false;        // torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE)
    std::string storePrefix;        // per torchrun restart
};

// From the environment; world 1 (and rank 0) when WORLD_SIZE is unset. Throws qcw::Error
// naming the variable that is malformed or inconsistent.
Env envFromEnvironment();

// Whether this build can make an NCCL process group (a CUDA LibTorch with NCCL).
bool ncclAvailable();

struct GroupOptions {
    std::string backend = "gloo";       // gloo or nccl
    double timeoutSeconds = 600;        // a collective or store wait that takes longer fails
    double heartbeatStaleSeconds = 30;  // a rank silent this long is declared gone
    std::size_t bucketBytes = 25u << 20;
};

class Group {
public:
    Group(const Env& env, const GroupOptions& options);
    ~Group();
    Group(const Group&) = delete;
    Group& operator=(const Group&) = delete;

    int rank() const;
    int world() const;

    // Sums the tensors in place over the ranks: flattened into buckets of at most
    // options.bucketBytes (per dtype and device), one all-reduce per bucket. `what` (e.g.
    // "gradients of step 12") goes into the error when a peer fails.
    void allReduceSum(const std::vector<at::Tensor>& tensors, const std::string& what);
    void barrier(const std::string& what);
    // Rank 0 marks a key done; the others wait for it with no time limit (the watchdog ends
    // the job if rank 0 dies meanwhile).
    void signalDone(const std::string& key);
    void waitDone(const std::string& key);
    // The step this rank is at, kept in the store to name a rank that hangs.
    void setProgress(std::int64_t step);
    // The job is over on this rank: a final barrier, then the watchdog stops so that ranks
    // may exit at different times.
    void finish();

    double allReduceSeconds() const;    // spent in allReduceSum, in total
    std::int64_t allReduceCalls() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d_;
};

// FNV-1a over the bytes of the tensors (moved to CPU): equal on two ranks exactly when their
// contents are bitwise equal. Hex string.
std::string checksum(const std::vector<at::Tensor>& tensors);

}  // namespace qcw::dist
