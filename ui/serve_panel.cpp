// core/serve first: its Admission::slots() must be seen before Qt defines the `slots` macro.
#include "serve/server.h"

#include "ui/serve_panel.h"

#include "ui/async.h"

#include "common/error.h"

#include <QApplication>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <deque>
#include <mutex>

namespace qcw::ui {

namespace {

constexpr int kPollMs = 500;
constexpr int kMaxLogRows = 500;

// Records the server's threads hand over; the GUI timer takes them.
struct LogQueue {
    std::mutex m;
    std::deque<qcw::serve::RequestRecord> records;
};

QString folderName(const QString& dir) { return QFileInfo(QDir::cleanPath(dir)).fileName(); }

// The key file's text without surrounding white space (as `qcompress serve --api-key-file`).
QString readKeyFile(const QString& path, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = ServePanel::tr("%1: cannot read the API key file").arg(path);
        return {};
    }
    const QString key = QString::fromUtf8(f.readAll()).trimmed();
    if (key.isEmpty()) *error = ServePanel::tr("%1: the API key file is empty").arg(path);
    return key;
}

struct Started {
    std::shared_ptr<qcw::serve::Server> server;
    int port = 0;
};

}  // namespace

struct ServePanel::Impl {
    enum class State { Idle, Starting, Running, Stopping };

    ServePanel* q;
    ModelsFn models;
    State state = State::Idle;
    std::shared_ptr<qcw::serve::Server> server;
    std::shared_ptr<LogQueue> log = std::make_shared<LogQueue>();
    QString host;
    int boundPort = 0;
    QString usedKey;
    bool stopAfterStart = false;  // the switch went off while the models were loading

    QPushButton* toggle = nullptr;
    QLineEdit* hostEdit = nullptr;
    QSpinBox* portSpin = nullptr;
    QLineEdit* keyEdit = nullptr;
    QLineEdit* keyFileEdit = nullptr;
    QSpinBox* parallelSpin = nullptr;
    QLabel* url = nullptr;
    QPushButton* copyUrl = nullptr;
    QLabel* status = nullptr;
    QLabel* statsLabel = nullptr;
    QTableWidget* table = nullptr;
    QTimer poll;
    QElapsedTimer sinceLastPoll;
    std::int64_t lastCompletionTokens = 0;
    double tokensPerSecond = 0;
    Jobs jobs;  // last: its destructor waits for the workers before the rest goes

    explicit Impl(ServePanel* panel) : q(panel) {}

    void setState(State s) {
        const bool wasRunning = state == State::Starting || state == State::Running;
        state = s;
        const bool running = s == State::Starting || s == State::Running;
        {
            const QSignalBlocker block(toggle);
            toggle->setChecked(running);
        }
        toggle->setEnabled(s != State::Stopping);
        toggle->setText(s == State::Idle       ? ServePanel::tr("Serve")
                        : s == State::Starting ? ServePanel::tr("Starting… (click to stop)")
                        : s == State::Running  ? ServePanel::tr("Serving (click to stop)")
                                               : ServePanel::tr("Stopping…"));
        for (QWidget* w : std::initializer_list<QWidget*>{hostEdit, portSpin, keyEdit, keyFileEdit, parallelSpin})
            w->setEnabled(s == State::Idle);
        copyUrl->setEnabled(running);
        table->setVisible(s != State::Idle || table->rowCount() > 0);  // no empty log under an idle switch
        if (running) poll.start();
        else poll.stop();
        if (wasRunning != running) emit q->runningChanged(running);
    }

    QString baseUrl() const {
        if (state != State::Starting && state != State::Running) return {};
        QString h = host;
        if (h.contains(':') && !h.startsWith('[')) h = '[' + h + ']';  // IPv6
        if (h == QLatin1String("0.0.0.0")) h = QStringLiteral("127.0.0.1");  // where this machine reaches it
        return QStringLiteral("http://%1:%2/v1").arg(h).arg(boundPort);
    }

    void showUrl() {
        const QString u = baseUrl();
        url->setText(u.isEmpty() ? ServePanel::tr("not serving") : u);
    }

    void fail(const QString& reason) {
        status->setText(ServePanel::tr("Not serving: %1").arg(reason));
        status->setProperty("error", true);
        emit q->failed(reason);
    }

    void drain() {
        std::deque<qcw::serve::RequestRecord> got;
        {
            std::lock_guard<std::mutex> lock(log->m);
            got.swap(log->records);
        }
        for (const auto& r : got) {
            const int row = table->rowCount();
            table->insertRow(row);
            const QString cells[7] = {
                QDateTime::fromMSecsSinceEpoch(r.unixMillis).toString(QStringLiteral("HH:mm:ss")),
                QString::fromStdString(r.method + " " + r.path),
                QString::fromStdString(r.model),
                QString::number(r.status),
                QString::number(r.promptTokens),
                QString::number(r.completionTokens),
                QString::number(r.milliseconds, 'f', 0)};
            for (int c = 0; c < 7; ++c) {
                auto* item = new QTableWidgetItem(cells[c]);
                if (c >= 3) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                table->setItem(row, c, item);
            }
        }
        while (table->rowCount() > kMaxLogRows) table->removeRow(0);
        if (!got.empty()) table->scrollToBottom();
    }

    void refreshStats() {
        drain();
        if (!server) return;
        const qcw::serve::ServerStats st = server->stats();
        const double secs = sinceLastPoll.isValid() ? double(sinceLastPoll.restart()) / 1000.0 : 0.0;
        if (!sinceLastPoll.isValid()) sinceLastPoll.start();
        if (secs > 0) tokensPerSecond = double(st.completionTokens - lastCompletionTokens) / secs;
        lastCompletionTokens = st.completionTokens;
        statsLabel->setText(ServePanel::tr("%1 · %2 tokens in, %3 out · %4 tok/s · queue %5/%6 · busy slots %7/%8")
                                .arg(st.requests == 1 ? ServePanel::tr("1 request")
                                                      : ServePanel::tr("%1 requests").arg(st.requests))
                                .arg(st.promptTokens)
                                .arg(st.completionTokens)
                                .arg(tokensPerSecond, 0, 'f', 1)
                                .arg(st.waiting)
                                .arg(st.queueCapacity)
                                .arg(st.busy)
                                .arg(st.slotCount));
        statsLabel->setProperty("requests", qulonglong(st.requests));
        statsLabel->setProperty("completionTokens", qlonglong(st.completionTokens));
        statsLabel->setProperty("tokensPerSecond", tokensPerSecond);
        statsLabel->setProperty("queue", st.waiting);
        statsLabel->setProperty("busy", st.busy);
    }

    void start() {
        if (state != State::Idle) return;
        status->setProperty("error", false);
        QString keyError;
        QString key = keyEdit->text().trimmed();
        if (key.isEmpty() && !keyFileEdit->text().trimmed().isEmpty())
            key = readKeyFile(keyFileEdit->text().trimmed(), &keyError);
        if (!keyError.isEmpty()) return fail(keyError);

        qcw::serve::ServerOptions o;
        o.host = hostEdit->text().trimmed().toStdString();
        if (o.host.empty()) o.host = "127.0.0.1";
        o.port = portSpin->value();
        o.apiKey = key.toStdString();
        o.parallel = parallelSpin->value();
        o.log = false;  // the pane's log instead of stderr
        auto queue = log;
        o.onRequest = [queue](const qcw::serve::RequestRecord& r) {
            std::lock_guard<std::mutex> lock(queue->m);
            queue->records.push_back(r);
            if (queue->records.size() > kMaxLogRows) queue->records.pop_front();
        };
        const std::string why = qcw::serve::checkServerOptions(o);
        if (!why.empty()) return fail(QString::fromStdString(why));

        const std::vector<Model> chosen = models ? models() : std::vector<Model>{};
        if (chosen.empty())
            return fail(ServePanel::tr("no model to serve: open a model or choose a compressed one above"));
        std::vector<qcw::serve::ModelSpec> specs;
        QStringList shown;
        for (const auto& [name, dir] : servedNames(chosen)) {
            specs.push_back({name.toStdString(), dir.toStdString()});
            shown << name;
        }

        host = QString::fromStdString(o.host);
        usedKey = key;
        boundPort = 0;
        stopAfterStart = false;
        lastCompletionTokens = 0;
        tokensPerSecond = 0;
        sinceLastPoll.invalidate();
        table->setRowCount(0);
        statsLabel->clear();
        status->setText(ServePanel::tr("Loading %1…").arg(shown.join(QStringLiteral(", "))));
        setState(State::Starting);
        showUrl();
        jobs.run(
            [o, specs](qcw::RunContext& ctx) {
                Started s;
                s.server = std::make_shared<qcw::serve::Server>(o);
                s.port = s.server->bind();
                s.server->start();
                ctx.report("bound", s.port, 0, {}, {});
                try {
                    s.server->loadModels(specs, ctx);
                } catch (...) {
                    s.server->stop();
                    s.server->wait();
                    throw;
                }
                return s;
            },
            [this, shown](Outcome<Started> out) {
                if (out.value && (out.cancelled || stopAfterStart)) {
                    server = out.value->server;
                    stopServer();
                    return;
                }
                if (!out.ok()) {
                    setState(State::Idle);
                    showUrl();
                    if (out.cancelled) {
                        status->setText(ServePanel::tr("Stopped"));
                        emit q->stopped();
                    } else {
                        fail(out.error);
                    }
                    return;
                }
                server = out.value->server;
                boundPort = out.value->port;
                setState(State::Running);
                showUrl();
                status->setText(ServePanel::tr("Serving %1 on %2%3")
                                    .arg(shown.join(QStringLiteral(", ")), baseUrl(),
                                         usedKey.isEmpty() ? ServePanel::tr(" (no API key)")
                                                           : ServePanel::tr(" (API key required)")));
                refreshStats();
                emit q->started(baseUrl());
            },
            [this](const qcw::Progress& p) {
                if (p.stage == "bound" && state == State::Starting) {
                    boundPort = static_cast<int>(p.step);
                    showUrl();
                }
            });
    }

    void stopServer() {
        auto s = std::move(server);
        server.reset();
        setState(State::Stopping);
        status->setText(ServePanel::tr("Stopping…"));
        jobs.run(
            [s](qcw::RunContext&) mutable {
                if (s) {
                    s->stop();
                    s->wait();
                    s.reset();  // the engines go here, off the GUI thread
                }
                return true;
            },
            [this](Outcome<bool>) {
                drain();
                setState(State::Idle);
                showUrl();
                status->setText(ServePanel::tr("Stopped"));
                emit q->stopped();
            });
    }

    void stop() {
        if (state == State::Starting) {
            stopAfterStart = true;
            jobs.cancelAll();  // loading ends at its next check; the start's callback stops the server
            status->setText(ServePanel::tr("Stopping…"));
            const QSignalBlocker block(toggle);
            toggle->setChecked(false);
            toggle->setEnabled(false);  // until the start has ended
            toggle->setText(ServePanel::tr("Stopping…"));
            return;
        }
        if (state == State::Running) stopServer();
    }
};

std::vector<std::pair<QString, QString>> ServePanel::servedNames(const std::vector<Model>& models) {
    std::vector<std::pair<QString, QString>> out;
    auto taken = [&](const QString& n) {
        for (const auto& p : out)
            if (p.first == n) return true;
        return false;
    };
    for (const Model& m : models) {
        const QString dir = QDir::cleanPath(m.dir);
        bool dup = false;
        for (const auto& p : out) dup = dup || p.second == dir;
        if (dup) continue;  // the same folder twice is served once
        QString name = folderName(dir);
        if (name.isEmpty() || taken(name)) name = (name.isEmpty() ? QStringLiteral("model") : name) + '-' + m.role;
        for (int i = 2; taken(name); ++i) name = folderName(dir) + '-' + m.role + '-' + QString::number(i);
        out.emplace_back(name, dir);
    }
    return out;
}

ServePanel::ServePanel(QWidget* parent) : QWidget(parent), d(std::make_unique<Impl>(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* grid = new QGridLayout;
    int col = 0;
    auto add = [&](const QString& label, QWidget* w, int stretch = 0) {
        if (!label.isEmpty()) grid->addWidget(new QLabel(label), 0, col++);
        grid->addWidget(w, 0, col);
        grid->setColumnStretch(col++, stretch);
    };
    d->toggle = new QPushButton(tr("Serve"));
    d->toggle->setObjectName("serve-toggle");
    d->toggle->setCheckable(true);
    d->toggle->setToolTip(tr("Serve the models shown above (each under its folder name) behind an OpenAI- and "
                             "Azure-OpenAI-compatible endpoint, as `qcompress serve` does"));
    add({}, d->toggle);
    d->hostEdit = new QLineEdit(QStringLiteral("127.0.0.1"));
    d->hostEdit->setObjectName("serve-host");
    d->hostEdit->setToolTip(tr("Address to listen on; any other than loopback needs an API key"));
    add(tr("Host:"), d->hostEdit, 1);
    d->portSpin = new QSpinBox;
    d->portSpin->setObjectName("serve-port");
    d->portSpin->setRange(0, 65535);
    d->portSpin->setValue(8080);
    d->portSpin->setSpecialValueText(tr("any free"));
    add(tr("Port:"), d->portSpin);
    d->parallelSpin = new QSpinBox;
    d->parallelSpin->setObjectName("serve-parallel");
    d->parallelSpin->setRange(1, 64);
    d->parallelSpin->setValue(1);
    d->parallelSpin->setToolTip(tr("Requests generating at once, decoded together in one batched step"));
    add(tr("Slots:"), d->parallelSpin);
    d->keyEdit = new QLineEdit;
    d->keyEdit->setObjectName("serve-key");
    d->keyEdit->setPlaceholderText(tr("none (loopback only)"));
    d->keyEdit->setToolTip(tr("The key clients send (Authorization: Bearer KEY, or api-key: KEY). "
                              "A typed or generated key is not saved; a key file is"));
    add(tr("API key:"), d->keyEdit, 2);
    auto* gen = new QPushButton(tr("Generate"));
    gen->setObjectName("serve-key-generate");
    connect(gen, &QPushButton::clicked, this, &ServePanel::generateKey);
    add({}, gen);
    d->keyFileEdit = new QLineEdit;
    d->keyFileEdit->setObjectName("serve-key-file");
    d->keyFileEdit->setPlaceholderText(tr("or a key file"));
    d->keyFileEdit->setToolTip(tr("Used when the key field is empty (as --api-key-file)"));
    add({}, d->keyFileEdit, 1);
    auto* browse = new QToolButton;
    browse->setText(tr("…"));
    browse->setToolTip(tr("Choose the API key file"));
    connect(browse, &QToolButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("API key file"), d->keyFileEdit->text());
        if (!f.isEmpty()) d->keyFileEdit->setText(f);
    });
    add({}, browse);
    layout->addLayout(grid);

    auto* line = new QHBoxLayout;
    d->url = new QLabel(tr("not serving"));
    d->url->setObjectName("serve-url");
    d->url->setTextInteractionFlags(Qt::TextSelectableByMouse);
    line->addWidget(new QLabel(tr("Base URL:")));
    line->addWidget(d->url);
    d->copyUrl = new QPushButton(tr("Copy"));
    d->copyUrl->setObjectName("serve-copy-url");
    d->copyUrl->setEnabled(false);
    connect(d->copyUrl, &QPushButton::clicked, this, [this] {
        if (auto* cb = QApplication::clipboard()) cb->setText(baseUrl());
    });
    line->addWidget(d->copyUrl);
    d->statsLabel = new QLabel;
    d->statsLabel->setObjectName("serve-stats");
    line->addWidget(d->statsLabel, 1, Qt::AlignRight);
    layout->addLayout(line);
    d->status = new QLabel(tr("Not serving"));
    d->status->setObjectName("serve-status");
    d->status->setWordWrap(true);
    d->status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(d->status);

    d->table = new QTableWidget(0, 7);
    d->table->setObjectName("serve-log");
    d->table->setHorizontalHeaderLabels(
        {tr("Time"), tr("Request"), tr("Model"), tr("Status"), tr("Tokens in"), tr("Tokens out"), tr("ms")});
    d->table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    d->table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    d->table->verticalHeader()->setVisible(false);
    d->table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    d->table->setSelectionBehavior(QAbstractItemView::SelectRows);
    d->table->setMaximumHeight(130);
    layout->addWidget(d->table);

    d->poll.setInterval(kPollMs);
    connect(&d->poll, &QTimer::timeout, this, [this] { d->refreshStats(); });
    connect(d->toggle, &QPushButton::toggled, this, &ServePanel::setServing);
    d->setState(Impl::State::Idle);
}

ServePanel::~ServePanel() {
    // The server's callbacks only touch the shared log queue; dropping the server stops and
    // joins it (here, at exit, the GUI may wait for running generations to end at their next token).
    d->jobs.cancelAll();
}

void ServePanel::setModelsFunction(ModelsFn fn) { d->models = std::move(fn); }
bool ServePanel::isRunning() const { return d->state == Impl::State::Starting || d->state == Impl::State::Running; }
bool ServePanel::isReady() const { return d->state == Impl::State::Running; }
int ServePanel::port() const { return isRunning() ? d->boundPort : 0; }
QString ServePanel::baseUrl() const { return d->baseUrl(); }
QString ServePanel::apiKey() const { return isRunning() ? d->usedKey : d->keyEdit->text().trimmed(); }

void ServePanel::start() { d->start(); }
void ServePanel::stop() { d->stop(); }

void ServePanel::setServing(bool on) {
    if (on) {
        d->start();
        if (d->state == Impl::State::Idle) d->setState(Impl::State::Idle);  // refused: the switch goes back off
    } else {
        d->stop();
    }
}

void ServePanel::generateKey() {
    QString key = QStringLiteral("qcw-");
    for (int i = 0; i < 4; ++i) key += QString::number(QRandomGenerator::system()->generate64(), 16).rightJustified(16, '0');
    d->keyEdit->setText(key);
}

void ServePanel::saveSettings(QSettings& s) const {
    s.setValue("serveHost", d->hostEdit->text().trimmed());
    s.setValue("servePort", d->portSpin->value());
    s.setValue("serveParallel", d->parallelSpin->value());
    s.setValue("serveKeyFile", d->keyFileEdit->text().trimmed());
}

void ServePanel::restoreSettings(QSettings& s) {
    d->hostEdit->setText(s.value("serveHost", QStringLiteral("127.0.0.1")).toString());
    d->portSpin->setValue(s.value("servePort", 8080).toInt());
    d->parallelSpin->setValue(s.value("serveParallel", 1).toInt());
    d->keyFileEdit->setText(s.value("serveKeyFile").toString());
}

}  // namespace qcw::ui
