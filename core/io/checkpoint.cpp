#include "io/checkpoint.h"

#include "common/error.h"
#include "common/files.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace qcw {

bool looksLikeModelDir(const std::string& dir) {
    std::error_code ec;
    return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / "config.json", ec);
}

Checkpoint Checkpoint::open(const std::string& dirArg) {
    Checkpoint c;
    c.dir_ = dirArg;
    std::error_code ec;
    const fs::path dir(dirArg);
    if (!fs::exists(dir, ec)) fail(dirArg, "model directory not found");
    if (!fs::is_directory(dir, ec)) fail(dirArg, "expected a model directory (config.json + model.safetensors), got a file");
    const fs::path cfg = dir / "config.json";
    if (!fs::exists(cfg, ec)) fail(cfg.string(), "missing: a model directory needs config.json");
    c.config_ = PhiConfig::load(cfg.string());

    const fs::path single = dir / "model.safetensors";
    const fs::path index = dir / "model.safetensors.index.json";
    if (fs::exists(index, ec)) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(readTextFile(index.string(), 64u << 20));
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            fail(index.string(), std::string("not valid JSON: ") + e.what());
        }
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            fail(index.string(), "missing 'weight_map' object");
        std::set<std::string> shardNames;
        std::vector<std::string> ordered;
        for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
            if (!it.value().is_string()) fail(index.string(), "weight_map entry '" + it.key() + "' is not a file name");
            std::string shard = it.value().get<std::string>();
            if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
                shard == "." || shard == "..")
                fail(index.string(), "shard name '" + shard + "' must be a plain file name in the model directory");
            if (shardNames.insert(shard).second) ordered.push_back(shard);
        }
        if (ordered.empty()) fail(index.string(), "weight_map lists no shards");
        for (const auto& s : ordered) {
            fs::path p = dir / s;
            if (!fs::exists(p, ec)) fail(p.string(), "shard listed in model.safetensors.index.json is missing");
            c.files_.push_back(SafetensorsFile::open(p.string()));
        }
        for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
            const std::string shard = it.value().get<std::string>();
            bool found = false;
            for (const auto& f : c.files_)
                if (fs::path(f->path()).filename() == shard && f->find(it.key())) found = true;
            if (!found) fail((dir / shard).string(), "does not contain tensor '" + it.key() + "' listed in the index");
        }
    } else if (fs::exists(single, ec)) {
        c.files_.push_back(SafetensorsFile::open(single.string()));
    } else {
        for (const char* pickle : {"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.ckpt"}) {
            if (fs::exists(dir / pickle, ec))
                fail((dir / pickle).string(),
                     "pickle checkpoints are refused and never unpickled (they can run code); convert the model "
                     "to safetensors first");
        }
        fail(dirArg, "no model.safetensors or model.safetensors.index.json in the model directory");
    }
    // A tensor name must not appear in two shards.
    std::set<std::string> seen;
    for (const auto& f : c.files_)
        for (const auto& t : f->tensors())
            if (!seen.insert(t.name).second) fail(f->path(), "tensor '" + t.name + "' appears in more than one shard");
    return c;
}

std::map<std::string, std::string> tuckerGroupsFromJson(const std::string& text, const std::string& path) {
    std::map<std::string, std::string> out;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        fail(path, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) fail(path, "missing 'layers' array");
    for (const auto& l : j["layers"])
        if (l.is_object() && l.contains("name") && l.contains("group") && l["name"].is_string() && l["group"].is_string())
            out[l["name"].get<std::string>()] = l["group"].get<std::string>();
    return out;
}

std::map<std::string, std::string> tuckerGroups(const std::string& dir) {
    const auto path = fs::path(dir) / "compression.json";
    std::error_code ec;
    if (!fs::exists(path, ec)) return {};
    return tuckerGroupsFromJson(readTextFile(path.string(), 64u << 20), path.string());
}

const TensorView* Checkpoint::find(const std::string& name) const {
    for (const auto& f : files_)
        if (const TensorView* t = f->find(name)) return t;
    return nullptr;
}

const SafetensorsFile* Checkpoint::fileOf(const std::string& name) const {
    for (const auto& f : files_)
        if (f->find(name)) return f.get();
    return nullptr;
}

std::vector<const TensorView*> Checkpoint::tensors() const {
    std::vector<const TensorView*> out;
    for (const auto& f : files_)
        for (const auto& t : f->tensors()) out.push_back(&t);
    return out;
}

std::size_t Checkpoint::bytesOnDisk() const {
    std::size_t n = 0;
    for (const auto& f : files_) n += f->fileSize();
    return n;
}

bool Checkpoint::hasTokenizer() const {
    std::error_code ec;
    const fs::path d(dir_);
    return fs::exists(d / "tokenizer.json", ec) || (fs::exists(d / "vocab.json", ec) && fs::exists(d / "merges.txt", ec));
}

}  // namespace qcw
