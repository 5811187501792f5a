#pragma once
// Token windows for training, from a dataset folder: plain data, no torch, for the CLI
// (qcompress train) and the workbench's fine-tuning pane alike.
//
//   DIR/ids.safetensors  int64 "input_ids" [rows, length]: each row cut into windows
//   DIR/dataset.jsonl    records of `qcompress data build`: the texts, tokenized with the
//                        model's tokenizer into one stream (end-of-text after each when the
//                        config names one), cut into windows
//
// The last 5% of the windows (at least one, when there are 10 or more) are held out for
// evaluation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

struct TrainDataOptions {
    int seqLen = 0;                  // tokens per window; 0: the rows of ids.safetensors, else min(128, context)
    std::size_t maxEvalWindows = 0;  // keep at most this many held-out windows (0: all)
    // Named in the error when the model has no tokenizer for dataset.jsonl.
    std::string tokenizerFor = "dataset.jsonl (or give ids.safetensors)";
    TrainDataOptions& withSeqLen(int n) { seqLen = n; return *this; }
    TrainDataOptions& withMaxEvalWindows(std::size_t n) { maxEvalWindows = n; return *this; }
};

struct TrainData {
    std::vector<std::vector<std::int64_t>> windows, evalWindows;
    std::string source;              // the file the windows came from
    int seqLen = 0;
};

// Throws qcw::Error naming the folder or file at fault (no dataset, no tokenizer, no complete window).
TrainData loadTrainData(const std::string& dataDir, const std::string& modelDir, const TrainDataOptions& options = {});

// The pieces, also used by qcompress eval/compress/tokenize.
// Rows of the int64 tensor "input_ids" [rows, length] of a safetensors file.
std::vector<std::vector<std::int64_t>> readIdRows(const std::string& path);
// The texts of a dataset JSONL (dataset.jsonl or eval.jsonl): "text", "prompt" + "completion",
// or "messages" (as "Role: content" lines), one per record; errors name the line.
std::vector<std::string> readDatasetTexts(const std::string& jsonl);
// Those texts tokenized by modelDir's tokenizer into one stream, each followed by end-of-text
// when the config names one; `forWhat` goes into the error when there is no tokenizer.
std::vector<std::int64_t> tokenizeDataset(const std::string& jsonl, const std::string& modelDir, const std::string& forWhat);
// Calibration windows from a dataset folder (its dataset.jsonl, tokenized as above): at most
// `count` windows of `length` tokens, evenly spaced over the whole stream. Throws qcw::Error
// naming dataset.jsonl when it gives fewer than `length` tokens.
std::vector<std::vector<std::int64_t>> calibrationWindows(const std::string& dataDir, const std::string& modelDir,
                                                          std::size_t length, std::size_t count,
                                                          const std::string& forWhat);

}  // namespace qcw
