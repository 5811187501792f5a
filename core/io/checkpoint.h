#pragma once
// A Hugging Face snapshot directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Pickle checkpoints (pytorch_model.bin) are refused, never
// unpickled.
#include "io/phi_config.h"
#include "io/safetensors.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcw {

class Checkpoint {
public:
    // Throws qcw::Error naming the directory or file and the problem.
    static Checkpoint open(const std::string& dir);

    const std::string& dir() const { return dir_; }
    const PhiConfig& config() const { return config_; }
    const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
    // nullptr when the tensor is absent.
    const TensorView* find(const std::string& name) const;
    const SafetensorsFile* fileOf(const std::string& name) const;
    // Every tensor of every shard, in file order.
    std::vector<const TensorView*> tensors() const;
    std::size_t bytesOnDisk() const;
    bool hasTokenizer() const;

private:
    std::string dir_;
    PhiConfig config_;
    std::vector<std::shared_ptr<SafetensorsFile>> files_;
};

// compression.json of a compressed model: which Tucker group each factorized layer belongs to
// ({"layers": [{"name", "group"}, ...]}; entries without both strings are ignored). Throws
// qcw::Error naming `path` when the text is not JSON or has no 'layers' array.
std::map<std::string, std::string> tuckerGroupsFromJson(const std::string& text, const std::string& path);
// The same from <dir>/compression.json; empty when the file is absent.
std::map<std::string, std::string> tuckerGroups(const std::string& dir);

// True when `dir` looks like a model directory (has config.json).
bool looksLikeModelDir(const std::string& dir);

}  // namespace qcw
