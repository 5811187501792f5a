// A model directory as a whole: the input is cut at "\n#~#\n" into config.json,
// model.safetensors.index.json (left out when empty), model-00001-of-00002.safetensors,
// model-00002-of-00002.safetensors (or model.safetensors when there is no index),
// compression.json (left out when empty) and tokenizer.json (left out when empty). Opening,
// summarising it and loading its tokenizer must give a one-line error naming a path in the
// directory, or a checkpoint whose every tensor is inside its file.
#include "fuzz_support.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string dir = fuzz::scratchDir() + "/model";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto parts = fuzz::split(data, size, "\n#~#\n", 6);
    parts.resize(6);
    fuzz::writeFile(dir + "/config.json", parts[0]);
    const bool sharded = !parts[1].empty();
    if (sharded) {
        fuzz::writeFile(dir + "/model.safetensors.index.json", parts[1]);
        fuzz::writeFile(dir + "/model-00001-of-00002.safetensors", parts[2]);
        fuzz::writeFile(dir + "/model-00002-of-00002.safetensors", parts[3]);
    } else {
        fuzz::writeFile(dir + "/model.safetensors", parts[2]);
    }
    if (!parts[4].empty()) fuzz::writeFile(dir + "/compression.json", parts[4]);
    if (!parts[5].empty()) fuzz::writeFile(dir + "/tokenizer.json", parts[5]);
    try {
        qcw::Checkpoint c = qcw::Checkpoint::open(dir);
        for (const auto* t : c.tensors()) {
            const auto* f = c.fileOf(t->name);
            if (!f || t->fileOffset + t->nbytes > f->fileSize()) fuzz::violated("tensor outside its shard");
        }
        qcw::ModelSummary s = qcw::summarize(c);
        (void)qcw::estimateMemory(s, 2, 2048, 1);
        (void)qcw::tuckerGroups(dir);
        (void)qcw::loadTokenizerForModel(dir);
    } catch (const qcw::Error& e) {
        fuzz::checkError(e, dir);
    }
    return 0;
}
