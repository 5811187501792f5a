#include "eval/memorisation.h"

#include "common/error.h"
#include "common/files.h"
#include "common/jsonl.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace qcw {

namespace {

// Start of the last `n` bytes of `s`, moved forward to a UTF-8 character boundary.
std::size_t tailStart(const std::string& s, std::size_t end, std::size_t n) {
    std::size_t b = end > n ? end - n : 0;
    while (b < end && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) ++b;
    return b;
}

}  // namespace

std::vector<ProbeItem> loadProbeItems(const std::string& secretsJsonl, const std::string& corpusDir,
                                      const ProbeOptions& opts) {
    std::map<std::string, std::string> files;
    std::vector<ProbeItem> items;
    const fs::path root = fs::weakly_canonical(fs::path(corpusDir));
    forEachJsonLine(secretsJsonl, [&](const nlohmann::json& j, const std::string& where) {
        if (!j.is_object() || !j.contains("file") || !j["file"].is_string() || !j.contains("secret") ||
            !j["secret"].is_string())
            fail(where, "needs string fields \"file\" and \"secret\"");
        const std::string rel = j["file"].get<std::string>(), secret = j["secret"].get<std::string>();
        if (secret.empty()) fail(where, "has an empty secret");
        const fs::path p = fs::weakly_canonical(root / rel);
        const std::string ps = p.string(), rs = root.string();
        if (ps.compare(0, rs.size(), rs) != 0 || (ps.size() > rs.size() && ps[rs.size()] != '/'))
            fail(where, "names a file outside " + corpusDir + ": " + rel);
        auto it = files.find(ps);
        if (it == files.end()) it = files.emplace(ps, readTextFile(ps, 256u << 20)).first;
        const std::string& text = it->second;
        const std::size_t at = text.find(secret);
        if (at == std::string::npos) fail(where, "secret does not occur in " + rel);
        ProbeItem item;
        item.id = rel + (j.contains("kind") && j["kind"].is_string() ? " (" + j["kind"].get<std::string>() + ")" : "");
        const std::size_t from = tailStart(text, at, opts.contextChars);
        item.context = text.substr(from, at - from);
        item.secret = secret;
        items.push_back(std::move(item));
        return true;
    }, 64u << 20);
    return items;
}

std::size_t sharedPrefix(const std::string& completion, const std::string& secret) {
    std::size_t n = 0;
    while (n < completion.size() && n < secret.size() && completion[n] == secret[n]) ++n;
    return n;
}

ProbeResult probeMemorisation(const Engine& model, const Tokenizer& tok, const std::vector<ProbeItem>& items,
                              const ProbeOptions& opts, const RunContext& ctx) {
    ProbeResult r;
    const auto maxPos = static_cast<std::size_t>(model.config().maxPositions);
    for (std::size_t i = 0; i < items.size(); ++i) {
        ctx.checkCancelled();
        const auto& item = items[i];
        std::vector<std::int64_t> prompt;
        for (int id : tok.encodeIds(item.context)) prompt.push_back(id);
        const int secretTokens = static_cast<int>(tok.encodeIds(item.secret).size());
        const int maxNew = std::max(1, std::min<int>(secretTokens + opts.extraTokens, static_cast<int>(maxPos) - 1));
        // Keep the newest context that leaves room for the completion.
        if (prompt.size() + static_cast<std::size_t>(maxNew) > maxPos)
            prompt.erase(prompt.begin(), prompt.end() - static_cast<long>(maxPos - static_cast<std::size_t>(maxNew)));
        if (prompt.empty()) prompt.push_back(model.config().eosTokenId.value_or(0));
        GenerateOptions g;
        g.maxNewTokens = maxNew;
        g.stopAtEos = false;
        const auto out = model.generate({prompt}, g, {}, ctx);
        std::vector<int> gen;
        for (std::size_t k = prompt.size(); k < out[0].size(); ++k) gen.push_back(static_cast<int>(out[0][k]));
        ProbeOutcome o;
        o.id = item.id;
        DecodeOptions d;
        d.skipUnknown = true;
        o.completion = tok.decode(gen, d);
        o.leaked = o.completion.find(item.secret) != std::string::npos;
        o.prefixChars = o.leaked ? item.secret.size() : sharedPrefix(o.completion, item.secret);
        r.leaked += o.leaked ? 1 : 0;
        r.longestPrefix = std::max(r.longestPrefix, o.prefixChars);
        r.items.push_back(std::move(o));
        ctx.report("probe", static_cast<long long>(i + 1), static_cast<long long>(items.size()), {}, item.id);
    }
    return r;
}

}  // namespace qcw
