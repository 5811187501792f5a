// Reading and writing tokenizer files: Hugging Face tokenizer.json, GPT-2's encoder.json +
// vocab.bpe (HF vocab.json + merges.txt), and the model-directory lookup.
#include "common/error.h"
#include "common/files.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

namespace qcw {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxTokenizerFile = 512u << 20;

json parseJson(const std::string& text, const std::string& where) {
    try {
        return json::parse(text);
    } catch (const std::exception& e) {
        fail(where, std::string("not valid JSON: ") + e.what());
    }
}

bool getBool(const json& o, const char* key, bool dflt, const std::string& where) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) fail(where, std::string("'") + key + "' is not true/false");
    return it->get<bool>();
}

std::string describeType(const json& o) {
    if (o.is_object() && o.contains("type") && o["type"].is_string()) return o["type"].get<std::string>();
    return o.dump().substr(0, 60);
}

// ByteLevel pre-tokenizer (alone or as the only member of a Sequence).
PreTokenizerOptions readPreTokenizer(const json& root, const std::string& where) {
    auto it = root.find("pre_tokenizer");
    if (it == root.end() || it->is_null())
        fail(where, "pre_tokenizer is null: only byte-level BPE tokenizers (ByteLevel pre-tokenizer) are supported");
    const json* p = &*it;
    if (describeType(*p) == "Sequence" && p->contains("pretokenizers") && (*p)["pretokenizers"].is_array() &&
        (*p)["pretokenizers"].size() == 1)
        p = &(*p)["pretokenizers"][0];
    if (describeType(*p) != "ByteLevel")
        fail(where, "pre_tokenizer '" + describeType(*p) + "' is not supported (only ByteLevel)");
    PreTokenizerOptions o;
    o.addPrefixSpace = getBool(*p, "add_prefix_space", false, where + ": pre_tokenizer");
    o.useRegex = getBool(*p, "use_regex", true, where + ": pre_tokenizer");
    return o;
}

std::vector<std::pair<std::string, std::string>> readMerges(const json& merges, const std::string& where) {
    if (!merges.is_array()) fail(where, "model.merges is not an array");
    if (merges.size() > (4u << 20))
        fail(where, "model.merges has " + std::to_string(merges.size()) + " entries, more than the limit of " +
                        std::to_string(4u << 20));
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(merges.size());
    std::size_t i = 0;
    for (const auto& m : merges) {
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const auto sp = s.find(' ');
            if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos)
                fail(where, "merge " + std::to_string(i) + " '" + s + "' is not two tokens separated by one space");
            out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            fail(where, "merge " + std::to_string(i) + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
        ++i;
    }
    return out;
}

void checkEmptyOrNull(const json& model, const char* key, const std::string& where) {
    auto it = model.find(key);
    if (it == model.end() || it->is_null()) return;
    if (it->is_string() && it->get<std::string>().empty()) return;
    fail(where, std::string("model.") + key + " = " + it->dump() + " is not supported by the byte-level BPE tokenizer");
}

std::vector<std::pair<std::string, int>> readVocabObject(const json& v, const std::string& where) {
    if (!v.is_object()) fail(where, "vocabulary is not a JSON object of token -> id");
    // The largest published vocabularies have about 256k entries; ids past 50M would make
    // the id tables alone gigabytes.
    constexpr std::size_t kMaxVocab = 4u << 20;
    if (v.size() > kMaxVocab)
        fail(where, "vocabulary has " + std::to_string(v.size()) + " entries, more than the limit of " +
                        std::to_string(kMaxVocab));
    std::vector<std::pair<std::string, int>> out;
    out.reserve(v.size());
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it.value().is_number_integer()) fail(where, "vocabulary entry '" + it.key() + "' has no integer id");
        const auto id = it.value().get<std::int64_t>();
        if (id < 0 || id > 50'000'000)
            fail(where, "vocabulary entry '" + it.key() + "' has the id " + std::to_string(id) +
                            ", outside 0..50000000");
        out.emplace_back(it.key(), static_cast<int>(id));
    }
    return out;
}

BpeModelData gpt2FilesData(const std::string& encoderJsonPath, const std::string& vocabBpePath) {
    BpeModelData d;
    d.vocab = readVocabObject(parseJson(readTextFile(encoderJsonPath, kMaxTokenizerFile), encoderJsonPath), encoderJsonPath);
    const std::string bpe = readTextFile(vocabBpePath, kMaxTokenizerFile);
    std::size_t pos = 0;
    std::size_t lineNo = 0;
    while (pos < bpe.size()) {
        std::size_t end = bpe.find('\n', pos);
        if (end == std::string::npos) end = bpe.size();
        std::string line = bpe.substr(pos, end - pos);
        pos = end + 1;
        ++lineNo;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (lineNo == 1 && line.rfind("#version", 0) == 0) continue;
        const auto sp = line.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() || line.find(' ', sp + 1) != std::string::npos)
            fail(vocabBpePath + ":" + std::to_string(lineNo), "merge line '" + line + "' is not two tokens separated by one space");
        d.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
    }
    return d;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::fromTokenizerJson(const std::string& jsonText, const std::string& where) {
    const json root = parseJson(jsonText, where);
    if (!root.is_object()) fail(where, "not a JSON object");
    auto mit = root.find("model");
    if (mit == root.end() || !mit->is_object()) fail(where, "no 'model' object");
    const json& model = *mit;
    if (model.contains("type") && describeType(model) != "BPE")
        fail(where, "model type '" + describeType(model) + "' is not supported (only BPE)");
    if (!model.contains("vocab") || !model.contains("merges")) fail(where, "model has no vocab or no merges");
    BpeModelData d;
    d.vocab = readVocabObject(model["vocab"], where + ": model.vocab");
    d.merges = readMerges(model["merges"], where);
    checkEmptyOrNull(model, "continuing_subword_prefix", where);
    checkEmptyOrNull(model, "end_of_word_suffix", where);
    if (getBool(model, "byte_fallback", false, where + ": model"))
        fail(where, "model.byte_fallback = true is not supported by the byte-level BPE tokenizer");
    d.ignoreMerges = getBool(model, "ignore_merges", false, where + ": model");
    if (model.contains("unk_token") && model["unk_token"].is_string()) d.unkToken = model["unk_token"].get<std::string>();
    d.preTokenizer = readPreTokenizer(root, where);
    if (root.contains("normalizer") && !root["normalizer"].is_null()) {
        const json& n = root["normalizer"];
        const bool emptySequence = describeType(n) == "Sequence" && n.contains("normalizers") &&
                                   n["normalizers"].is_array() && n["normalizers"].empty();
        if (!emptySequence) fail(where, "normalizer '" + describeType(n) + "' is not supported");
    }
    if (root.contains("decoder") && !root["decoder"].is_null() && describeType(root["decoder"]) != "ByteLevel")
        fail(where, "decoder '" + describeType(root["decoder"]) + "' is not supported (only ByteLevel)");
    if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
        const json& arr = root["added_tokens"];
        if (!arr.is_array()) fail(where, "added_tokens is not an array");
        for (const auto& t : arr) {
            const std::string w = where + ": added_tokens";
            if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
                !t["content"].is_string())
                fail(w, "entry without an integer id and a content string: " + t.dump().substr(0, 80));
            AddedToken a;
            a.id = t["id"].get<int>();
            a.content = t["content"].get<std::string>();
            a.special = getBool(t, "special", false, w);
            a.singleWord = getBool(t, "single_word", false, w);
            a.lstrip = getBool(t, "lstrip", false, w);
            a.rstrip = getBool(t, "rstrip", false, w);
            a.normalized = getBool(t, "normalized", !a.special, w);
            d.addedTokens.push_back(std::move(a));
        }
    }
    return fromModelData(std::move(d), where);
}

std::unique_ptr<Tokenizer> Tokenizer::fromTokenizerJsonFile(const std::string& path) {
    return fromTokenizerJson(readTextFile(path, kMaxTokenizerFile), path);
}

std::unique_ptr<Tokenizer> Tokenizer::fromGpt2Files(const std::string& encoderJsonPath, const std::string& vocabBpePath,
                                                    const std::vector<std::string>& specialTokens) {
    BpeModelData d = gpt2FilesData(encoderJsonPath, vocabBpePath);
    for (const auto& s : specialTokens) {
        auto it = std::find_if(d.vocab.begin(), d.vocab.end(), [&](const auto& v) { return v.first == s; });
        if (it == d.vocab.end()) fail(encoderJsonPath, "special token '" + s + "' is not in the vocabulary");
        AddedToken a;
        a.id = it->second;
        a.content = s;
        a.special = true;
        a.normalized = false;
        d.addedTokens.push_back(a);
    }
    return fromModelData(std::move(d), encoderJsonPath);
}

std::string Tokenizer::toTokenizerJson() const {
    using ojson = nlohmann::ordered_json;
    const BpeModelData& d = impl_->data;
    ojson root;
    root["version"] = "1.0";
    root["truncation"] = nullptr;
    root["padding"] = nullptr;
    ojson added = ojson::array();
    std::vector<AddedToken> sortedAdded = d.addedTokens;
    std::stable_sort(sortedAdded.begin(), sortedAdded.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& a : sortedAdded) {
        ojson t;
        t["id"] = a.id;
        t["content"] = a.content;
        t["single_word"] = a.singleWord;
        t["lstrip"] = a.lstrip;
        t["rstrip"] = a.rstrip;
        t["normalized"] = a.normalized;
        t["special"] = a.special;
        added.push_back(std::move(t));
    }
    root["added_tokens"] = std::move(added);
    root["normalizer"] = nullptr;
    auto byteLevel = [&](bool addPrefixSpace, bool trimOffsets) {
        ojson b;
        b["type"] = "ByteLevel";
        b["add_prefix_space"] = addPrefixSpace;
        b["trim_offsets"] = trimOffsets;
        b["use_regex"] = d.preTokenizer.useRegex;
        return b;
    };
    root["pre_tokenizer"] = byteLevel(d.preTokenizer.addPrefixSpace, true);
    root["post_processor"] = byteLevel(d.preTokenizer.addPrefixSpace, false);
    root["decoder"] = byteLevel(d.preTokenizer.addPrefixSpace, true);
    ojson model;
    model["type"] = "BPE";
    model["dropout"] = nullptr;
    model["unk_token"] = d.unkToken ? ojson(*d.unkToken) : ojson(nullptr);
    model["continuing_subword_prefix"] = nullptr;
    model["end_of_word_suffix"] = nullptr;
    model["fuse_unk"] = false;
    model["byte_fallback"] = false;
    model["ignore_merges"] = d.ignoreMerges;
    std::vector<std::pair<std::string, int>> vocab = d.vocab;
    std::stable_sort(vocab.begin(), vocab.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    // Appended straight to the ordered map's vector: its operator[] searches linearly.
    ojson v = ojson::object();
    auto& entries = static_cast<ojson::object_t::Container&>(v.get_ref<ojson::object_t&>());
    entries.reserve(vocab.size());
    for (const auto& [tok, id] : vocab) entries.emplace_back(tok, id);
    model["vocab"] = std::move(v);
    ojson merges = ojson::array();
    for (const auto& [a, b] : d.merges) merges.push_back(a + " " + b);
    model["merges"] = std::move(merges);
    root["model"] = std::move(model);
    return root.dump(2) + "\n";
}

void Tokenizer::saveTokenizerJson(const std::string& path) const { writeTextFileAtomically(path, toTokenizerJson()); }

std::unique_ptr<Tokenizer> loadTokenizerForModel(const std::string& modelDir) {
    const fs::path dir(modelDir);
    std::error_code ec;
    if (fs::is_regular_file(dir / "tokenizer.json", ec)) return Tokenizer::fromTokenizerJsonFile((dir / "tokenizer.json").string());
    if (!fs::is_regular_file(dir / "vocab.json", ec) || !fs::is_regular_file(dir / "merges.txt", ec)) return nullptr;
    BpeModelData d = gpt2FilesData((dir / "vocab.json").string(), (dir / "merges.txt").string());
    std::vector<std::pair<std::string, int>> specials;
    for (const auto& [tok, id] : d.vocab)
        if (tok == "<|endoftext|>") specials.emplace_back(tok, id);
    const fs::path addedPath = dir / "added_tokens.json";
    if (fs::is_regular_file(addedPath, ec)) {
        const json added = parseJson(readTextFile(addedPath.string()), addedPath.string());
        for (const auto& entry : readVocabObject(added, addedPath.string()))
            if (std::none_of(specials.begin(), specials.end(), [&](const auto& s) { return s.first == entry.first; }))
                specials.push_back(entry);
    }
    for (const auto& [tok, id] : specials) {
        AddedToken a;
        a.id = id;
        a.content = tok;
        a.special = true;
        a.normalized = false;
        d.addedTokens.push_back(a);
    }
    return Tokenizer::fromModelData(std::move(d), (dir / "vocab.json").string());
}

}  // namespace qcw
