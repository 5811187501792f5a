#include "ui/pane_chat.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/model_session.h"
#include "ui/serve_panel.h"

#include "common/error.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <QCheckBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTextBrowser>
#include <QTextCursor>
#include <QVBoxLayout>

#include <chrono>
#include <map>
#include <mutex>

namespace qcw::ui {

namespace {

const char* const kStopMarker = "\nUser:";

// Loaded engines, by directory, shared by the pane's jobs (loading phi-1.5 takes seconds).
struct EngineCache {
    std::mutex m;
    std::map<std::string, std::shared_ptr<qcw::Engine>> engines;
    std::map<std::string, std::shared_ptr<qcw::Tokenizer>> tokenizers;
};

ChatReply generateWithEngine(EngineCache& cache, const std::string& dir, const std::string& prompt,
                             const ChatOptions& o, qcw::RunContext& ctx) {
    using Clock = std::chrono::steady_clock;
    std::shared_ptr<qcw::Engine> engine;
    std::shared_ptr<qcw::Tokenizer> tok;
    ChatReply r;
    {
        std::lock_guard<std::mutex> lock(cache.m);
        auto it = cache.engines.find(dir);
        if (it != cache.engines.end()) {
            engine = it->second;
            tok = cache.tokenizers[dir];
        }
    }
    if (!engine) {
        std::unique_ptr<qcw::Tokenizer> t = qcw::loadTokenizerForModel(dir);
        if (!t) qcw::fail(dir, "has no tokenizer (tokenizer.json); the chat needs one");
        tok = std::shared_ptr<qcw::Tokenizer>(std::move(t));
        const auto t0 = Clock::now();
        engine = std::shared_ptr<qcw::Engine>(qcw::Engine::load(dir, {}, ctx));
        r.loadSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
        std::lock_guard<std::mutex> lock(cache.m);
        cache.engines[dir] = engine;
        cache.tokenizers[dir] = tok;
    }
    r.params = engine->parameterCount();
    r.weightBytes = engine->weightBytes();
    const std::string text = o.dialogue ? "User: " + prompt + "\nAssistant:" : prompt;
    std::vector<std::int64_t> ids;
    for (int id : tok->encodeIds(text)) ids.push_back(id);
    const int ctxLen = engine->config().maxPositions;
    const int maxNew = std::max(1, std::min(o.maxNewTokens, ctxLen - 1));
    if (static_cast<int>(ids.size()) + maxNew > ctxLen)  // keep the newest part of the prompt
        ids.erase(ids.begin(), ids.end() - (ctxLen - maxNew));
    if (ids.empty()) ids.push_back(engine->config().eosTokenId.value_or(0));

    qcw::GenerateOptions g;
    g.maxNewTokens = maxNew;
    if (o.sample) g.sampling(o.temperature, 0, 0.95);
    qcw::DecodeOptions dopt;
    dopt.skipUnknown = true;
    dopt.skipSpecial = true;
    qcw::StreamDecoder dec(*tok, dopt);
    std::string shown;
    const auto start = Clock::now();
    bool first = true;
    long long n = 0;
    auto report = [&](const std::string& piece) {
        if (piece.empty()) return;
        shown += piece;
        ctx.report("text", ++n, maxNew, {}, piece);
    };
    qcw::GenerationStats st;
    engine->generate({ids}, g,
                     [&](std::size_t, std::int64_t t) {
                         if (first) {
                             r.firstTokenSeconds = std::chrono::duration<double>(Clock::now() - start).count();
                             first = false;
                         }
                         report(dec.push(static_cast<int>(t)));
                         return !(o.dialogue && shown.find(kStopMarker) != std::string::npos);
                     },
                     ctx, &st);
    report(dec.flush());
    if (o.dialogue) {
        const auto cut = shown.find(kStopMarker);
        if (cut != std::string::npos) shown.resize(cut);
    }
    r.text = shown;
    r.newTokens = st.newTokens;
    r.decodeTokensPerSecond = st.decodeSeconds > 0 && st.newTokens > 1 ? double(st.newTokens - 1) / st.decodeSeconds : 0.0;
    return r;
}

struct Side {
    QGroupBox* box = nullptr;
    QTextBrowser* view = nullptr;
    QLabel* status = nullptr;
    int replyStart = -1;  // document position where the streamed reply began
};

}  // namespace

struct ChatPane::Impl {
    ChatPane* q;
    std::shared_ptr<EngineCache> cache = std::make_shared<EngineCache>();
    GenerateFn generate;
    Side sides[3];
    QLineEdit* compressedEdit = nullptr;
    QLineEdit* tunedEdit = nullptr;
    QPlainTextEdit* prompt = nullptr;
    QSpinBox* maxNew = nullptr;
    QCheckBox* sample = nullptr;
    QCheckBox* dialogue = nullptr;
    QDoubleSpinBox* temperature = nullptr;
    QPushButton* sendButton = nullptr;
    QPushButton* stopButton = nullptr;
    ServePanel* serve = nullptr;
    bool busy = false;
    std::string pendingPrompt;
    ChatOptions pendingOptions;
    Jobs jobs;  // last: its destructor waits for the workers before the rest goes

    explicit Impl(ChatPane* pane) : q(pane) {}

    QString dirOf(int side) const {
        if (side == 0) return q->context().session->directory();
        const QString t = (side == 1 ? compressedEdit : tunedEdit)->text().trimmed();
        return t.isEmpty() ? QString() : QDir::cleanPath(t);
    }

    void setBusy(bool b) {
        busy = b;
        sendButton->setEnabled(!b);
        stopButton->setEnabled(b);
        emit q->busyChanged(b);
    }

    void appendPrompt(int side, const QString& text) {
        QTextBrowser* v = sides[side].view;
        QTextCursor c(v->document());
        c.movePosition(QTextCursor::End);
        if (!v->document()->isEmpty()) c.insertBlock();
        QTextCharFormat bold;
        bold.setFontWeight(QFont::Bold);
        c.insertText(ChatPane::tr("You: "), bold);
        c.insertText(text, QTextCharFormat());
        c.insertBlock();
        c.insertText(ChatPane::tr("Model: "), bold);
        sides[side].replyStart = c.position();
        v->setTextCursor(c);
    }

    void appendPiece(int side, const QString& piece) {
        QTextCursor c(sides[side].view->document());
        c.movePosition(QTextCursor::End);
        c.insertText(piece, QTextCharFormat());
        sides[side].view->ensureCursorVisible();
    }

    void replaceReply(int side, const QString& text, bool italic) {
        QTextCursor c(sides[side].view->document());
        c.setPosition(sides[side].replyStart);
        c.movePosition(QTextCursor::End, QTextCursor::KeepAnchor);
        QTextCharFormat f;
        f.setFontItalic(italic);
        c.insertText(text, f);
    }

    void runSide(int side) {
        if (side > 2) {
            setBusy(false);
            emit q->exchangeFinished();
            return;
        }
        const QString dir = dirOf(side);
        Side& s = sides[side];
        const QString titles[3] = {ChatPane::tr("Original — %1"), ChatPane::tr("Compressed — %1"),
                                   ChatPane::tr("Compressed + fine-tuned — %1")};
        s.box->setTitle(titles[side].arg(dir.isEmpty() ? ChatPane::tr("none") : QFileInfo(dir).fileName()));
        appendPrompt(side, QString::fromStdString(pendingPrompt));
        if (dir.isEmpty()) {
            const QString why[3] = {ChatPane::tr("(no model is open)"),
                                    ChatPane::tr("(choose a compressed model above, e.g. the Compression pane's output)"),
                                    ChatPane::tr("(choose a fine-tuned model above, e.g. `qcompress train` output's model/)")};
            replaceReply(side, why[side], true);
            runSide(side + 1);
            return;
        }
        s.status->setText(ChatPane::tr("Generating…"));
        auto fn = generate;
        const std::string d = dir.toStdString(), prompt = pendingPrompt;
        const ChatOptions o = pendingOptions;
        jobs.run([fn, d, prompt, o](qcw::RunContext& ctx) { return fn(d, prompt, o, ctx); },
                 [this, side](Outcome<ChatReply> out) {
                     Side& s = sides[side];
                     if (out.ok()) {
                         const ChatReply& r = *out.value;
                         replaceReply(side, QString::fromStdString(r.text), false);
                         QString st = ChatPane::tr("%1 tokens · %2 tok/s · first token %3 s · %4 parameters")
                                          .arg(r.newTokens)
                                          .arg(r.decodeTokensPerSecond, 0, 'f', 1)
                                          .arg(r.firstTokenSeconds, 0, 'f', 2)
                                          .arg(formatCompactCount(r.params));
                         if (r.weightBytes > 0) st += ChatPane::tr(" · weights %1").arg(formatBytes(double(r.weightBytes)));
                         if (r.loadSeconds > 0) st += ChatPane::tr(" · loaded in %1 s").arg(r.loadSeconds, 0, 'f', 1);
                         s.status->setText(st);
                         runSide(side + 1);
                     } else if (out.cancelled) {
                         appendPiece(side, ChatPane::tr(" [stopped]"));
                         s.status->setText(ChatPane::tr("Stopped"));
                         setBusy(false);
                         emit q->exchangeFinished();
                     } else {
                         replaceReply(side, ChatPane::tr("(failed: %1)").arg(out.error), true);
                         s.status->setText(out.error);
                         runSide(side + 1);
                     }
                 },
                 [this, side](const qcw::Progress& p) {
                     if (p.stage == "text") appendPiece(side, QString::fromStdString(p.message));
                 });
    }
};

ChatPane::ChatPane(const PaneContext& context, QWidget* parent) : Pane(context, parent), d(std::make_unique<Impl>(this)) {
    auto cache = d->cache;
    d->generate = [cache](const std::string& dir, const std::string& prompt, const ChatOptions& o, qcw::RunContext& ctx) {
        return generateWithEngine(*cache, dir, prompt, o, ctx);
    };

    auto* layout = new QVBoxLayout(this);
    auto* paths = new QFormLayout;
    auto pathRow = [&](const QString& label, const char* name, const QString& placeholder) {
        auto* row = new QHBoxLayout;
        auto* edit = new QLineEdit;
        edit->setObjectName(name);
        edit->setPlaceholderText(placeholder);
        row->addWidget(edit, 1);
        auto* browse = new QPushButton(tr("Browse…"));
        connect(browse, &QPushButton::clicked, this, [this, edit, label] {
            const QString dir = QFileDialog::getExistingDirectory(this, label, edit->text());
            if (!dir.isEmpty()) edit->setText(ModelSession::normalizeModelPath(dir));
        });
        row->addWidget(browse);
        paths->addRow(label, row);
        return edit;
    };
    d->compressedEdit = pathRow(tr("Compressed model:"), "chat-compressed-dir",
                                tr("a folder written by the Compression pane or `qcompress compress`"));
    d->tunedEdit = pathRow(tr("Fine-tuned model:"), "chat-tuned-dir",
                           tr("optional: the compressed model after `qcompress train` (its model/ folder)"));
    layout->addLayout(paths);

    auto* split = new QSplitter(Qt::Horizontal);
    const char* names[3] = {"chat-original", "chat-compressed", "chat-tuned"};
    const QString boxTitles[3] = {tr("Original"), tr("Compressed"), tr("Compressed + fine-tuned")};
    for (int i = 0; i < 3; ++i) {
        Side& s = d->sides[i];
        s.box = new QGroupBox(boxTitles[i]);
        auto* v = new QVBoxLayout(s.box);
        s.view = new QTextBrowser;
        s.view->setObjectName(names[i]);
        s.view->setOpenLinks(false);
        s.status = new QLabel(tr("Idle"));
        s.status->setObjectName(QString(names[i]) + "-status");
        s.status->setTextInteractionFlags(Qt::TextSelectableByMouse);
        v->addWidget(s.view, 1);
        v->addWidget(s.status);
        split->addWidget(s.box);
    }
    layout->addWidget(split, 1);

    auto* opts = new QHBoxLayout;
    opts->addWidget(new QLabel(tr("New tokens:")));
    d->maxNew = new QSpinBox;
    d->maxNew->setRange(1, 2048);
    d->maxNew->setValue(64);
    opts->addWidget(d->maxNew);
    d->sample = new QCheckBox(tr("Sample, temperature"));
    d->sample->setToolTip(tr("Off: greedy decoding (the same answer every time)"));
    opts->addWidget(d->sample);
    d->temperature = new QDoubleSpinBox;
    d->temperature->setRange(0.05, 2.0);
    d->temperature->setSingleStep(0.05);
    d->temperature->setValue(0.8);
    d->temperature->setEnabled(false);
    connect(d->sample, &QCheckBox::toggled, d->temperature, &QWidget::setEnabled);
    opts->addWidget(d->temperature);
    d->dialogue = new QCheckBox(tr("Dialogue format"));
    d->dialogue->setChecked(true);
    d->dialogue->setToolTip(tr("Send \"User: <prompt>\\nAssistant:\" and stop at the model's next \"User:\"; "
                               "off: plain continuation of the prompt"));
    opts->addWidget(d->dialogue);
    opts->addStretch(1);
    layout->addLayout(opts);

    auto* bottom = new QHBoxLayout;
    d->prompt = new QPlainTextEdit;
    d->prompt->setObjectName("chat-prompt");
    d->prompt->setPlaceholderText(tr("Ask both models (Ctrl+Return sends)"));
    d->prompt->setMaximumHeight(90);
    bottom->addWidget(d->prompt, 1);
    auto* buttons = new QVBoxLayout;
    d->sendButton = new QPushButton(tr("Send"));
    d->sendButton->setObjectName("chat-send");
    d->stopButton = new QPushButton(tr("Stop"));
    d->stopButton->setObjectName("chat-stop");
    d->stopButton->setEnabled(false);
    buttons->addWidget(d->sendButton);
    buttons->addWidget(d->stopButton);
    bottom->addLayout(buttons);
    layout->addLayout(bottom);

    // Serve: the models above behind the OpenAI-compatible server (as `qcompress serve`).
    auto* serveBox = new QGroupBox(tr("Serve — an OpenAI- and Azure-OpenAI-compatible endpoint for the models above"));
    serveBox->setObjectName("chat-serve");
    auto* serveLayout = new QVBoxLayout(serveBox);
    d->serve = new ServePanel;
    d->serve->setObjectName("serve-panel");
    d->serve->setModelsFunction([this] {
        std::vector<ServePanel::Model> m;
        const char* roles[3] = {"original", "compressed", "tuned"};
        for (int side = 0; side < 3; ++side) {
            const QString dir = d->dirOf(side);
            if (!dir.isEmpty()) m.push_back({QString::fromLatin1(roles[side]), dir});
        }
        return m;
    });
    serveLayout->addWidget(d->serve);
    layout->addWidget(serveBox);
    connect(d->sendButton, &QPushButton::clicked, this, &ChatPane::send);
    connect(d->stopButton, &QPushButton::clicked, this, &ChatPane::stop);
    auto* shortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), d->prompt);
    connect(shortcut, &QShortcut::activated, this, &ChatPane::send);
    // A new original model drops nothing: the cache is keyed by directory.
}

ChatPane::~ChatPane() = default;

void ChatPane::setGenerateFunction(GenerateFn fn) { d->generate = std::move(fn); }

void ChatPane::setCompressedModel(const QString& dir) {
    d->compressedEdit->setText(dir.isEmpty() ? QString() : ModelSession::normalizeModelPath(dir));
}

QString ChatPane::compressedModel() const { return d->compressedEdit->text().trimmed(); }

void ChatPane::setTunedModel(const QString& dir) {
    d->tunedEdit->setText(dir.isEmpty() ? QString() : ModelSession::normalizeModelPath(dir));
}

bool ChatPane::isBusy() const { return d->busy; }

ServePanel* ChatPane::servePanel() const { return d->serve; }

void ChatPane::send() {
    const QString text = d->prompt->toPlainText().trimmed();
    if (d->busy || text.isEmpty()) return;
    d->pendingPrompt = text.toStdString();
    d->pendingOptions.maxNewTokens = d->maxNew->value();
    d->pendingOptions.sample = d->sample->isChecked();
    d->pendingOptions.temperature = d->temperature->value();
    d->pendingOptions.dialogue = d->dialogue->isChecked();
    d->prompt->clear();
    d->setBusy(true);
    d->runSide(0);
}

void ChatPane::stop() { d->jobs.cancelAll(); }

void ChatPane::saveSettings(QSettings& s) const {
    s.setValue("compressed", compressedModel());
    s.setValue("tuned", d->tunedEdit->text().trimmed());
    s.setValue("maxNewTokens", d->maxNew->value());
    s.setValue("sample", d->sample->isChecked());
    s.setValue("temperature", d->temperature->value());
    s.setValue("dialogue", d->dialogue->isChecked());
    d->serve->saveSettings(s);
}

void ChatPane::restoreSettings(QSettings& s) {
    d->compressedEdit->setText(s.value("compressed").toString());
    d->tunedEdit->setText(s.value("tuned").toString());
    d->maxNew->setValue(s.value("maxNewTokens", 64).toInt());
    d->sample->setChecked(s.value("sample", false).toBool());
    d->temperature->setValue(s.value("temperature", 0.8).toDouble());
    d->dialogue->setChecked(s.value("dialogue", true).toBool());
    d->serve->restoreSettings(s);
}

}  // namespace qcw::ui
