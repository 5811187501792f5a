// THE table of decomposition strategies: one line per strategy. The CLI's --method help and
// checks, the compression pane's method list, the rank search (searchable) and the loader
// (the layer kinds each stores) all read it. Adding a strategy: one file in this folder and
// one line here (CONTRIBUTING.md).
#include "decompose/strategies/strategy.h"

#include "common/error.h"

#include <algorithm>
#include <mutex>

namespace qcw {

namespace {

struct Table {
    std::mutex mutex;
    std::vector<std::shared_ptr<const DecompositionStrategy>> strategies = {
        makeSvdStrategy(),       // svd (the default)
        makeAsvdStrategy(),      // asvd
        makeTuckerStrategy(),    // tucker
        makeTuckerXlStrategy(),  // tucker-xl
        makeTtStrategy(),        // tt
        makeAutoStrategy(),      // auto
        makeInt8Strategy(),      // int8
        makeCustomStrategy(),    // custom (a plugin's factorizer in CompressOptions)
    };
};

Table& table() {
    static Table t;
    return t;
}

}  // namespace

std::string defaultStrategyId() { return "svd"; }

std::vector<StrategyInfo> strategyInfos() {
    Table& t = table();
    std::lock_guard<std::mutex> lock(t.mutex);
    std::vector<StrategyInfo> out;
    for (const auto& s : t.strategies) out.push_back(s->info());
    return out;
}

const StrategyInfo* findStrategyInfo(const std::string& id) {
    Table& t = table();
    std::lock_guard<std::mutex> lock(t.mutex);
    for (const auto& s : t.strategies)
        if (s->info().id == id) return &s->info();
    return nullptr;
}

std::string listedStrategyIds(const std::string& lastJoin) {
    std::vector<std::string> ids;
    for (const auto& i : strategyInfos())
        if (i.listed) ids.push_back(i.id);
    std::string out;
    for (std::size_t k = 0; k < ids.size(); ++k) {
        if (k) out += k + 1 == ids.size() ? " " + lastJoin + " " : ", ";
        out += ids[k];
    }
    return out;
}

std::string searchableStrategyIds() {
    std::string out;
    for (const auto& i : strategyInfos())
        if (i.searchable) out += (out.empty() ? "" : ", ") + i.id;
    return out;
}

bool strategySearchable(const std::string& id) {
    const StrategyInfo* i = findStrategyInfo(id);
    return i && i->searchable;
}

std::string strategyHelp() {
    std::size_t width = 0;
    const auto infos = strategyInfos();
    for (const auto& i : infos)
        if (i.listed) width = std::max(width, i.id.size());
    std::string out = "Strategies (--method):\n";
    for (const auto& i : infos)
        if (i.listed) out += "  " + i.id + std::string(width + 2 - i.id.size(), ' ') + i.description + "\n";
    return out;
}

const DecompositionStrategy& strategyFor(const std::string& id) {
    {
        Table& t = table();
        std::lock_guard<std::mutex> lock(t.mutex);
        for (const auto& s : t.strategies)
            if (s->info().id == id) return *s;
    }
    fail("--method " + id, "unknown method; expected " + listedStrategyIds());
}

void registerStrategy(std::shared_ptr<const DecompositionStrategy> s) {
    if (!s || s->info().id.empty()) fail("strategy", "a strategy needs an id");
    Table& t = table();
    std::lock_guard<std::mutex> lock(t.mutex);
    for (const auto& e : t.strategies)
        if (e->info().id == s->info().id) fail("strategy " + s->info().id, "is already in the table");
    t.strategies.push_back(std::move(s));
}

void registerFactorizerStrategy(const std::string& id, const std::string& name, const std::string& description,
                                MatrixFactorizer factorizer) {
    StrategyInfo info{id, name, description, false, false, true, true, {"lowrank", "lowrank-int8"}};
    registerStrategy(makeFactorizerStrategy(std::move(info), std::move(factorizer)));
}

}  // namespace qcw
