#pragma once
// The chat pane: one prompt, answered by the original model (the one the workbench has open),
// a compressed model and, optionally, the compressed + fine-tuned model side by side, streamed token by token, with each side's decode
// speed and time to first token. Generation runs on a background thread (see async.h), one
// side after the other so their speeds are measured on the same idle machine; Stop cancels.
#include "ui/pane.h"

#include "common/run_context.h"

#include <functional>
#include <memory>
#include <string>

namespace qcw::ui {

class ServePanel;

struct ChatOptions {
    int maxNewTokens = 64;
    bool sample = false;         // greedy when false
    double temperature = 0.8;
    bool dialogue = true;        // wrap as "User: ...\nAssistant:" and stop at the next "User:"
};

struct ChatReply {
    std::string text;            // the answer as finally shown
    long long newTokens = 0;
    double firstTokenSeconds = 0;  // from the start of generation (prefill included)
    double decodeTokensPerSecond = 0;
    long long params = 0;
    long long weightBytes = 0;   // the loaded weights in memory (compute dtype)
    double loadSeconds = 0;      // 0 when the model was already loaded
};

class ChatPane : public Pane {
    Q_OBJECT
public:
    // One side's generation; runs on a worker thread, may throw qcw::Error. It streams text
    // through ctx.report() with stage "text" and the piece as the message.
    using GenerateFn = std::function<ChatReply(const std::string& modelDir, const std::string& prompt,
                                               const ChatOptions&, qcw::RunContext& ctx)>;

    ChatPane(const PaneContext& context, QWidget* parent = nullptr);
    ~ChatPane() override;

    void setGenerateFunction(GenerateFn fn);  // default: qcw::Engine + the model's tokenizer
    void setCompressedModel(const QString& dir);
    QString compressedModel() const;
    void setTunedModel(const QString& dir);  // the compressed + fine-tuned model (optional)

    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

    bool isBusy() const;
    ServePanel* servePanel() const;  // the Serve switch under the chat (ui/serve_panel.h)

public slots:
    void send();  // the prompt box's text to both sides
    void stop();

signals:
    void busyChanged(bool busy);
    void exchangeFinished();  // both sides answered, failed or were stopped

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
