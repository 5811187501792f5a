#pragma once
// The decomposition strategies as plain data (no torch here): the one table that the CLI's
// help and checks, the compression pane's method list, the rank search and the loader read.
// The strategies themselves (strategy.h) and their table (registry.cpp) live beside this.
#include "decompose/compress_api.h"

#include <string>
#include <vector>

namespace qcw {

struct StrategyInfo {
    std::string id;           // CompressOptions::method, --method
    std::string name;         // display name (the pane's method list)
    std::string description;  // one line (tool tips, help)
    bool needsCalibration = false;  // refuses to run without calibration windows
    bool searchable = false;        // the rank search allocates its ranks (per-matrix low rank)
    bool perMatrixRanks = false;    // takes explicit ranks per matrix (rank overrides)
    bool listed = true;             // offered by --method and the pane (false: reached through a plugin)
    // The layer kinds it stores (model/layer_kinds.h): what tensors a saved layer holds, and so
    // which rebuild the loader runs for it.
    std::vector<std::string> stores;
};

// Every strategy in table order: the built-in ones, then those registered at run time.
std::vector<StrategyInfo> strategyInfos();
// The one of this id, or null.
const StrategyInfo* findStrategyInfo(const std::string& id);
// The listed ids, "svd, asvd, ... or int8" (the CLI's help and errors).
std::string listedStrategyIds(const std::string& lastJoin = "or");
// The searchable ids, "svd, asvd" (the rank search allocates their ranks), and whether `id` is one.
std::string searchableStrategyIds();
bool strategySearchable(const std::string& id);
// The CLI's list of strategies: a heading line, then "  <id>  <description>" per listed one.
std::string strategyHelp();
// The strategy a compression uses when none is named.
std::string defaultStrategyId();

// A per-matrix factorizer brought from outside the core (a plugin) as a strategy of its own,
// in the same table: `--method <id>` then factorizes every matrix with it, at the ranks svd
// would get. Fails when the id is taken or empty.
void registerFactorizerStrategy(const std::string& id, const std::string& name, const std::string& description,
                                MatrixFactorizer factorizer);

}  // namespace qcw
