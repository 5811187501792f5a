// Building a dataset: walk inputs, read + scrub every document, turn sections and pairs
// into records, drop duplicates, chunk to the training length, split, write.
#include "common/error.h"
#include "common/files.h"
#include "data/data.h"
#include "data/dedup.h"
#include "data/internal.h"

#include <nlohmann/json.hpp>

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

namespace fs = std::filesystem;

namespace qcw {

using ojson = nlohmann::ordered_json;

namespace detail {

int countTokens(const std::string& text, const TokenizeFn& tokenize) {
    if (tokenize) return int(tokenize(text).size());
    return int((text.size() + 3) / 4);
}

namespace {
bool ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// The best cut in (lo, hi]: paragraph break, line break, space, else a UTF-8 boundary.
std::size_t cutPoint(const std::string& t, std::size_t lo, std::size_t hi) {
    if (hi >= t.size()) return t.size();
    std::string_view win = std::string_view(t).substr(lo, hi - lo);
    for (const char* sep : {"\n\n", "\n", " "}) {
        std::size_t p = win.rfind(sep);
        if (p != std::string_view::npos && p > 0) return lo + p + std::strlen(sep);
    }
    std::size_t p = hi;
    while (p > lo + 1 && (static_cast<unsigned char>(t[p]) & 0xC0) == 0x80) --p;
    return p;
}
}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> chunkRanges(const std::string& text, int maxTokens, int overlap,
                                                             const TokenizeFn& tokenize) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    const std::size_t n = text.size();
    if (n == 0) return out;
    maxTokens = std::max(maxTokens, 8);
    overlap = std::clamp(overlap, 0, maxTokens / 2);
    int total = countTokens(text, tokenize);
    if (total <= maxTokens) {
        out.emplace_back(0, n);
        return out;
    }
    double bytesPerToken = tokenize ? std::max(1.0, double(n) / double(std::max(total, 1))) : 4.0;
    std::size_t window = std::max<std::size_t>(8, std::size_t(maxTokens * bytesPerToken));
    std::size_t overlapBytes = std::size_t(overlap * bytesPerToken);
    std::size_t s = 0;
    while (s < n) {
        while (s < n && ws(text[s])) ++s;
        if (s >= n) break;
        std::size_t hi = std::min(n, s + window);
        std::size_t cut = cutPoint(text, s + window / 2, hi);
        if (tokenize) {
            // Shrink until the real tokenizer agrees.
            for (int guard = 0; guard < 40 && cut > s + 1 && countTokens(text.substr(s, cut - s), tokenize) > maxTokens; ++guard) {
                std::size_t newHi = s + (cut - s) * 9 / 10;
                cut = cutPoint(text, s + (newHi - s) / 2, newHi);
            }
        }
        if (cut <= s) cut = std::min(n, s + window);
        out.emplace_back(s, cut);
        if (cut >= n) break;
        std::size_t next = cut > overlapBytes ? cut - overlapBytes : 0;
        if (overlapBytes > 0) {
            // Start the overlap at a word boundary.
            while (next < cut && !ws(text[next])) ++next;
            if (next >= cut) next = cut > overlapBytes ? cut - overlapBytes : 0;
            while ((static_cast<unsigned char>(text[next]) & 0xC0) == 0x80 && next < cut) ++next;
        } else {
            next = cut;
        }
        if (next <= s) next = cut;
        s = next;
    }
    return out;
}

}  // namespace detail

namespace {

std::string joinRel(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

// Deterministic walk. Symlinks are followed only to regular files and to directories not
// visited before; loops, dangling links and special files are reported.
bool excluded(const std::vector<std::string>& patterns, const std::string& rel, std::string& which) {
    std::string name = fs::path(rel).filename().string();
    for (const auto& p : patterns)
        if (::fnmatch(p.c_str(), rel.c_str(), 0) == 0 || ::fnmatch(p.c_str(), name.c_str(), 0) == 0) {
            which = p;
            return true;
        }
    return false;
}

void walkInputs(const std::vector<std::string>& inputs, const std::vector<std::string>& exclude,
                std::vector<InputFile>& files, std::vector<SkippedFile>& skipped) {
    std::set<std::pair<dev_t, ino_t>> seenDirs, seenFiles;
    bool multi = inputs.size() > 1;
    for (const auto& input : inputs) {
        struct stat st {};
        if (::stat(input.c_str(), &st) != 0) {
            int err = errno;
            skipped.push_back({input, err == ELOOP ? "symlink loop (too many levels of symbolic links)"
                                                   : std::string("cannot access: ") + std::strerror(err)});
            continue;
        }
        std::string rootRel = multi ? fs::path(input).lexically_normal().filename().string() : std::string();
        if (!S_ISDIR(st.st_mode)) {
            if (seenFiles.insert({st.st_dev, st.st_ino}).second)
                files.push_back({input, fs::path(input).filename().string()});
            continue;
        }
        seenDirs.insert({st.st_dev, st.st_ino});
        std::vector<std::pair<std::string, std::string>> stack{{input, rootRel}};
        while (!stack.empty()) {
            auto [dir, rel] = stack.back();
            stack.pop_back();
            std::vector<std::string> names;
            std::error_code ec;
            for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
                 it.increment(ec))
                names.push_back(it->path().filename().string());
            if (ec) {
                skipped.push_back({rel.empty() ? dir : rel, "cannot list directory: " + ec.message()});
                continue;
            }
            std::sort(names.begin(), names.end());
            std::vector<std::pair<std::string, std::string>> subdirs;
            for (const auto& name : names) {
                std::string path = (fs::path(dir) / name).string();
                std::string r = joinRel(rel, name);
                if (name[0] == '.') {
                    skipped.push_back({r, "hidden file or directory"});
                    continue;
                }
                std::string pattern;
                if (excluded(exclude, r, pattern)) {
                    skipped.push_back({r, "excluded by pattern " + pattern});
                    continue;
                }
                struct stat ls {};
                if (::lstat(path.c_str(), &ls) != 0) {
                    skipped.push_back({r, std::string("cannot stat: ") + std::strerror(errno)});
                    continue;
                }
                struct stat ts = ls;
                bool link = S_ISLNK(ls.st_mode);
                if (link && ::stat(path.c_str(), &ts) != 0) {
                    int err = errno;
                    skipped.push_back({r, err == ELOOP ? "symlink loop (too many levels of symbolic links)"
                                          : err == ENOENT ? "broken symlink (target does not exist)"
                                                          : std::string("cannot follow symlink: ") + std::strerror(err)});
                    continue;
                }
                if (S_ISDIR(ts.st_mode)) {
                    if (!seenDirs.insert({ts.st_dev, ts.st_ino}).second) {
                        skipped.push_back({r, link ? "symlink loop (points to a directory already visited)"
                                                   : "directory already visited"});
                        continue;
                    }
                    subdirs.emplace_back(path, r);
                } else if (S_ISREG(ts.st_mode)) {
                    if (!seenFiles.insert({ts.st_dev, ts.st_ino}).second) {
                        skipped.push_back({r, "same file already read through another path (link)"});
                        continue;
                    }
                    files.push_back({path, r});
                } else {
                    skipped.push_back({r, "not a regular file (device, FIFO or socket)"});
                }
            }
            for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(*it);
        }
    }
}

ojson positionJson(const SourcePosition& p) {
    ojson j;
    j["byte_start"] = p.byteStart;
    j["byte_end"] = p.byteEnd;
    j["line_start"] = p.lineStart;
    j["line_end"] = p.lineEnd;
    if (p.page > 0) j["page"] = p.page;
    return j;
}

std::string trimCopy(const std::string& s, std::size_t& lead) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    lead = b;
    return s.substr(b, e - b);
}

}  // namespace

int DatasetBuildResult::trainRecords() const {
    return int(std::count_if(records.begin(), records.end(), [](const DataRecord& r) { return !r.eval; }));
}
int DatasetBuildResult::evalRecords() const { return int(records.size()) - trainRecords(); }

std::string recordJsonLine(const DataRecord& r) {
    ojson j;
    if (r.kind == "pair") {
        j["prompt"] = r.prompt;
        j["completion"] = r.completion;
    } else if (r.kind == "chat") {
        ojson m = ojson::parse(r.messagesJson, nullptr, false);
        j["messages"] = m.is_object() && m.contains("messages") ? m["messages"] : ojson::array();
    } else {
        j["text"] = r.text;
    }
    j["source"] = r.source;
    j["position"] = positionJson(r.position);
    j["kind"] = r.kind;
    j["origin"] = r.origin;
    j["tokens"] = r.tokens;
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string DatasetBuildResult::manifestJson() const {
    ojson m;
    m["format"] = "qcw-dataset/1";
    m["tokenizer"] = tokenizer;
    m["max_tokens"] = maxTokens;
    m["overlap"] = overlap;
    m["files_read"] = filesRead;
    ojson sk = ojson::array();
    for (const auto& s : skipped) sk.push_back({{"path", s.path}, {"reason", s.reason}});
    m["files_skipped"] = sk;
    m["records"] = records.size();
    m["records_train"] = trainRecords();
    m["records_eval"] = evalRecords();
    m["pairs"] = pairs;
    int total = 0;
    ojson red = ojson::object();
    for (const auto& [k, v] : redactions) {
        red[k] = v;
        total += v;
    }
    m["redactions"] = red;
    m["redactions_total"] = total;
    ojson an = ojson::object();
    for (const auto& [k, v] : anonymized) an[k] = v;
    m["anonymized"] = an;
    m["duplicates"] = {{"exact", exactDuplicates}, {"near", nearDuplicates}};
    m["eval_fraction"] = evalFraction;
    m["eval_sources"] = evalSources;
    m["bytes_read"] = bytesRead;
    m["seconds"] = seconds;
    m["mb_per_s"] = seconds > 0 ? double(bytesRead) / 1e6 / seconds : 0.0;
    ojson fl = ojson::array();
    for (const auto& f : files) {
        ojson j;
        j["path"] = f.path;
        j["type"] = f.type;
        j["status"] = f.status;
        if (!f.reason.empty()) j["reason"] = f.reason;
        j["bytes"] = f.bytes;
        j["records"] = f.records;
        ojson r = ojson::object();
        for (const auto& [k, v] : f.redactions) r[k] = v;
        j["redactions"] = r;
        if (!f.warnings.empty()) j["warnings"] = f.warnings;
        fl.push_back(j);
    }
    m["files"] = fl;
    return m.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

InputListing listInputFiles(const std::vector<std::string>& inputs, const std::vector<std::string>& exclude) {
    InputListing l;
    walkInputs(inputs, exclude, l.files, l.skipped);
    return l;
}

DatasetBuildResult buildDataset(const std::vector<std::string>& inputs, const DataOptions& options, RunContext& ctx) {
    auto t0 = std::chrono::steady_clock::now();
    if (inputs.empty()) fail("data build", "no input given");
    if (options.maxTokens < 8) fail("data build", "--max-tokens must be at least 8");
    if (options.overlap < 0 || options.overlap >= options.maxTokens)
        fail("data build", "--overlap must be between 0 and --max-tokens - 1");
    if (options.evalFraction < 0 || options.evalFraction >= 1) fail("data build", "--eval-fraction must be in [0, 1)");
    std::error_code ec;
    bool anyInput = false;
    for (const auto& in : inputs) anyInput = anyInput || fs::exists(in, ec) || fs::is_symlink(in, ec);
    if (!anyInput) fail(inputs.front(), "input not found");

    DatasetBuildResult res;
    res.tokenizer = options.tokenize ? "callback" : "approx-bytes/4";
    res.maxTokens = options.maxTokens;
    res.overlap = options.overlap;
    res.evalFraction = options.evalFraction;

    std::vector<InputFile> files;
    walkInputs(inputs, options.exclude, files, res.skipped);
    for (const auto& s : res.skipped) res.files.push_back({s.path, "", "skipped", s.reason, {}, 0, 0, {}});
    ctx.report("scan", 0, 0, {{"files", double(files.size())}}, std::to_string(files.size()) + " files");

    Anonymizer anon;
    std::vector<DataRecord> all;
    for (std::size_t i = 0; i < files.size(); ++i) {
        ctx.checkCancelled();
        const auto& f = files[i];
        DocumentReport doc;
        try {
            doc = readDocument(f.path, options, &anon);
        } catch (const std::exception& e) {  // a reader bug or out of memory must not end the run
            doc = DocumentReport();
            doc.path = f.path;
            doc.status = "skipped";
            doc.reason = std::string("reader failed: ") + e.what();
        }
        FileSummary fs;
        fs.path = f.rel;
        fs.type = doc.type;
        fs.status = doc.status;
        fs.reason = doc.reason;
        fs.warnings = doc.warnings;
        fs.bytes = doc.bytes;
        if (doc.skipped()) {
            res.skipped.push_back({f.rel, doc.reason});
            res.files.push_back(std::move(fs));
            ctx.report("read", long(i + 1), long(files.size()), {}, f.rel + ": skipped");
            continue;
        }
        ++res.filesRead;
        res.bytesRead += doc.bytes;
        for (const auto& [k, v] : doc.redactionCounts) {
            if (k == "ip" || k == "email") res.anonymized[k] += v;
            else res.redactions[k] += v;
            if (k != "ip" && k != "email") fs.redactions[k] += v;
        }
        detail::PositionMapper mapper(doc);
        std::size_t before = all.size();
        for (const auto& sec : doc.sections) {
            auto ranges = detail::chunkRanges(sec.text, options.maxTokens, options.overlap, options.tokenize);
            for (const auto& [b, e] : ranges) {
                std::size_t lead = 0;
                std::string text = trimCopy(sec.text.substr(b, e - b), lead);
                if (text.empty()) continue;
                DataRecord r;
                r.kind = "text";
                r.text = std::move(text);
                r.origin = sec.kind;
                r.source = f.rel;
                r.position = sec.verbatim ? mapper.map(sec.begin + b + lead, sec.begin + b + lead + r.text.size())
                                          : mapper.map(sec.begin, sec.end);
                if (sec.page > 0) r.position.page = sec.page;
                all.push_back(std::move(r));
            }
        }
        for (const auto& p : doc.pairs) {
            DataRecord r;
            r.kind = p.messagesJson.empty() ? "pair" : "chat";
            r.prompt = p.prompt;
            r.completion = p.completion;
            r.messagesJson = p.messagesJson;
            r.origin = p.origin;
            r.source = f.rel;
            r.position = mapper.map(p.begin, std::max(p.begin, p.end));
            all.push_back(std::move(r));
        }
        fs.records = int(all.size() - before);
        res.files.push_back(std::move(fs));
        ctx.report("read", long(i + 1), long(files.size()), {{"MB", double(res.bytesRead) / 1e6}}, f.rel);
    }

    // Deduplicate (first occurrence wins, files in sorted order).
    ctx.checkCancelled();
    DuplicateFilter textFilter(options.nearDuplicateJaccard), pairFilter(options.nearDuplicateJaccard);
    std::map<std::string, int> perSourceDrops;
    for (auto& r : all) {
        if (options.dedup) {
            auto verdict = r.kind == "text" ? textFilter.check(r.text)
                                            : pairFilter.check(r.kind == "pair" ? r.prompt + "\n" + r.completion : r.messagesJson);
            if (verdict == DuplicateFilter::Verdict::Exact) {
                ++res.exactDuplicates;
                ++perSourceDrops[r.source];
                continue;
            }
            if (verdict == DuplicateFilter::Verdict::Near) {
                ++res.nearDuplicates;
                ++perSourceDrops[r.source];
                continue;
            }
        }
        if (r.kind == "pair" && r.origin != "user") {  // user pairs are kept as written
            // Derived pairs were clipped to ~4 bytes per token when built; hold them to the real count.
            for (int guard = 0; guard < 30 && r.completion.size() > 16 &&
                                detail::countTokens(r.prompt + "\n" + r.completion, options.tokenize) > options.maxTokens;
                 ++guard) {
                std::size_t cut = r.completion.size() * 9 / 10;
                std::size_t sp = r.completion.rfind(' ', cut);
                if (sp != std::string::npos && sp > cut / 2) cut = sp;
                while (cut > 0 && (static_cast<unsigned char>(r.completion[cut]) & 0xC0) == 0x80) --cut;
                r.completion = r.completion.substr(0, cut) + " ...";
            }
        }
        r.tokens = r.kind == "text"   ? detail::countTokens(r.text, options.tokenize)
                   : r.kind == "pair" ? detail::countTokens(r.prompt + "\n" + r.completion, options.tokenize)
                                      : detail::countTokens(r.messagesJson, options.tokenize);
        if (r.kind != "text") ++res.pairs;
        res.records.push_back(std::move(r));
    }
    for (auto& f : res.files)
        if (perSourceDrops.count(f.path)) f.records -= perSourceDrops[f.path];

    // Held-out split by source file: the files with the smallest hashes of their path.
    if (options.evalFraction > 0) {
        std::vector<std::string> sources;
        for (const auto& r : res.records)
            if (sources.empty() || sources.back() != r.source) sources.push_back(r.source);
        std::sort(sources.begin(), sources.end());
        sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
        std::size_t nEval = std::size_t(std::llround(options.evalFraction * double(sources.size())));
        if (nEval == 0 && sources.size() >= 2) nEval = 1;
        if (nEval >= sources.size()) nEval = sources.size() > 1 ? sources.size() - 1 : 0;
        std::sort(sources.begin(), sources.end(), [](const std::string& a, const std::string& b) {
            auto ha = fnv1a64(a), hb = fnv1a64(b);
            return ha != hb ? ha < hb : a < b;
        });
        std::set<std::string> evalSet(sources.begin(), sources.begin() + long(nEval));
        for (auto& r : res.records) r.eval = evalSet.count(r.source) > 0;
        res.evalSources.assign(evalSet.begin(), evalSet.end());
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctx.report("done", long(files.size()), long(files.size()),
               {{"records", double(res.records.size())}, {"MB/s", res.seconds > 0 ? double(res.bytesRead) / 1e6 / res.seconds : 0}});
    return res;
}

void writeDataset(const DatasetBuildResult& result, const std::string& outDir, bool replace) {
    buildDirectoryAtomically(
        outDir,
        [&](const std::string& tmp) {
            auto writeRecords = [&](const std::string& name, bool eval) {
                writeFileAtomically((fs::path(tmp) / name).string(), [&](std::ostream& out) {
                    for (const auto& r : result.records)
                        if (r.eval == eval) out << recordJsonLine(r) << '\n';
                });
            };
            writeRecords("dataset.jsonl", false);
            if (result.evalRecords() > 0 || result.evalFraction > 0) writeRecords("eval.jsonl", true);
            writeTextFileAtomically((fs::path(tmp) / "manifest.json").string(), result.manifestJson());
        },
        replace);
}

}  // namespace qcw
