// qcompress forward MODEL --ids FILE.safetensors --out OUT.safetensors
#include "cli.h"
#include "common/error.h"
#include "io/safetensors.h"
#include "model/engine.h"

#include <cstring>

namespace {

std::vector<std::int64_t> readIntTensor(const qcw::SafetensorsFile& f, const qcw::TensorView& t) {
    std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
    for (std::size_t i = 0; i < out.size(); ++i) {
        switch (t.dtype) {
            case qcw::DType::I64: { std::int64_t v; std::memcpy(&v, t.data + 8 * i, 8); out[i] = v; break; }
            case qcw::DType::I32: { std::int32_t v; std::memcpy(&v, t.data + 4 * i, 4); out[i] = v; break; }
            case qcw::DType::I16: { std::int16_t v; std::memcpy(&v, t.data + 2 * i, 2); out[i] = v; break; }
            case qcw::DType::I8: out[i] = static_cast<std::int8_t>(t.data[i]); break;
            case qcw::DType::U8: case qcw::DType::Bool: out[i] = t.data[i]; break;
            default: qcw::fail(f.path(), "tensor '" + t.name + "' has dtype " + qcw::dtypeName(t.dtype) + ", expected an integer type");
        }
    }
    return out;
}

}  // namespace

QCW_COMMAND(20) {
    struct Opts {
        std::string model, ids, out, device = "cpu", dtype = "auto", weights = "auto";
        bool hidden = false, json = false;
        int threads = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("forward", "Run the model on token ids and write the logits");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    sub->add_option("--ids", o->ids, "safetensors file with int64 input_ids [B,T] and optional attention_mask [B,T]")->required();
    sub->add_option("--out", o->out, "Output safetensors file (float32 logits [B,T,V])")->required();
    sub->add_option("--device", o->device, "cpu, cuda or cuda:N");
    sub->add_option("--dtype", o->dtype, "auto, float32, float16 or bfloat16");
    sub->add_option("--threads", o->threads, "CPU threads (0: all cores)");
    sub->add_option("--weights", o->weights, "How weights are held: auto (stored on the CPU), stored, compute, f32, f16, bf16, q8 or q4");
    sub->add_flag("--hidden-states", o->hidden, "Also write hidden_state_0..N as transformers returns them");
    sub->add_flag("--json", o->json, "Print a JSON summary on stdout");
    sub->callback([o] {
        auto in = qcw::SafetensorsFile::open(o->ids);
        const qcw::TensorView* ids = in->find("input_ids");
        if (!ids) qcw::fail(o->ids, "has no tensor named 'input_ids'");
        if (ids->shape.size() != 2) qcw::fail(o->ids, "input_ids must be 2-D [batch, time]");
        const qcw::TensorView* mask = in->find("attention_mask");
        if (mask && mask->shape != ids->shape) qcw::fail(o->ids, "attention_mask must have the shape of input_ids");
        auto idv = readIntTensor(*in, *ids);
        std::vector<std::int64_t> maskv = mask ? readIntTensor(*in, *mask) : std::vector<std::int64_t>{};
        auto engine = qcw::Engine::load(o->model, {o->device, o->dtype, o->threads, o->weights}, qcw::cli::interruptibleContext());
        auto r = engine->forward(idv, maskv, ids->shape[0], ids->shape[1], o->hidden);
        std::vector<qcw::TensorToWrite> outs;
        outs.push_back({"logits", qcw::DType::F32, r.logits.shape, r.logits.data.data(), {}});
        for (std::size_t i = 0; i < r.hiddenStates.size(); ++i)
            outs.push_back({"hidden_state_" + std::to_string(i), qcw::DType::F32, r.hiddenStates[i].shape,
                            r.hiddenStates[i].data.data(), {}});
        qcw::writeSafetensors(o->out, outs, {{"made_with", "qcompress forward"}, {"device", engine->deviceName()},
                                             {"dtype", engine->computeDtype()}});
        if (o->json)
            qcw::cli::printJson({{"out", o->out}, {"logits_shape", r.logits.shape}, {"device", engine->deviceName()},
                                 {"dtype", engine->computeDtype()}, {"load_seconds", engine->loadSeconds()}});
    });
}
