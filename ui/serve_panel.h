#pragma once
// The chat pane's Serve switch: the same OpenAI- and Azure-OpenAI-compatible server as
// `qcompress serve` (core/serve), started in-process for the models the chat pane shows, with
// its address, key, a live request log, tokens/s, queue length and busy slots.
//
// The server (cpp-httplib, the engines) lives behind a pimpl; starting (bind + load) and
// stopping run on worker threads, so the GUI never waits on a socket or a model load. The
// server's request callback only queues records under a mutex; a 500 ms timer on the GUI
// thread drains them into the log and reads the server's counters.
#include <QString>
#include <QWidget>

#include <functional>
#include <memory>
#include <vector>

class QSettings;

namespace qcw::ui {

class ServePanel : public QWidget {
    Q_OBJECT
public:
    // A model to serve: its role in the chat pane ("original", "compressed", "tuned") and folder.
    struct Model {
        QString role;
        QString dir;
    };
    using ModelsFn = std::function<std::vector<Model>()>;

    explicit ServePanel(QWidget* parent = nullptr);
    ~ServePanel() override;

    // Which models a start serves (asked at each start). Default: none.
    void setModelsFunction(ModelsFn fn);

    // Each model's name in the server: its folder name, or folder-role when two share one.
    static std::vector<std::pair<QString, QString>> servedNames(const std::vector<Model>& models);

    bool isRunning() const;   // listening (loading or ready)
    bool isReady() const;     // listening with its models loaded
    int port() const;         // the bound port; 0 when not running
    QString baseUrl() const;  // "http://HOST:PORT/v1" while running, else empty
    QString apiKey() const;   // the key a start uses (typed, or read from the key file)

    void saveSettings(QSettings& settings) const;  // host, port, parallel, key file (never a typed key)
    void restoreSettings(QSettings& settings);

public slots:
    void start();
    void stop();
    void setServing(bool on);  // the switch
    void generateKey();

signals:
    void started(const QString& baseUrl);  // models loaded, answering
    void stopped();
    void failed(const QString& reason);    // a start that did not happen, or a server that ended
    void runningChanged(bool running);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
