#pragma once
// A fake Hugging Face hub served by cpp-httplib on 127.0.0.1 inside the test process. It speaks
// the parts of the hub protocol huggingface_hub (and qcw::hub::pull) use:
//   GET  /api/models/ORG/NAME/revision/REV[?blobs=true]  {"id","sha","siblings":[{"rfilename",
//        "size","blobId","lfs":{"sha256","size","pointerSize"}}]}
//   HEAD|GET /ORG/NAME/resolve/REV/PATH  X-Repo-Commit and ETag on every file; LFS files answer
//        302 to /cdn/SHA256 with X-Linked-Etag and X-Linked-Size, plain files 200 with their body
//   GET  /cdn/SHA256  the LFS contents, with Range (206 + Content-Range)
// It counts the body bytes it serves per path, can require a token, answer 429 a number of
// times, corrupt a file's bytes, and stall a transfer half-way until released.
#include <httplib.h>

#include <QCryptographicHash>
#include <QString>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fakehub {

struct File {
    std::string path, content;
    bool lfs = false;
    std::string sha256() const {
        return QCryptographicHash::hash(QByteArray::fromStdString(content), QCryptographicHash::Sha256).toHex().toStdString();
    }
    std::string gitSha1() const {
        QByteArray b = QByteArray("blob ") + QByteArray::number(qulonglong(content.size())) + QByteArray(1, '\0') +
                       QByteArray::fromStdString(content);
        return QCryptographicHash::hash(b, QCryptographicHash::Sha1).toHex().toStdString();
    }
};

struct Repo {
    std::map<std::string, std::string> refs;                 // revision -> commit
    std::map<std::string, std::vector<File>> commits;        // commit -> files
    std::string token;                                       // non-empty: gated
};

class Hub {
public:
    Hub() {
        using namespace httplib;
        srv_.Get(R"(/api/models/([^/]+)/([^/]+)/revision/([^/?]+))", [this](const Request& q, Response& r) {
            ++apiRequests;
            if (failApi429 > 0) {
                --failApi429;
                r.status = 429;
                r.set_header("Retry-After", "0");
                r.set_content("{\"error\":\"rate limited\"}", "application/json");
                return;
            }
            const std::string repo = q.matches[1].str() + "/" + q.matches[2].str();
            const Repo* rp = find(repo);
            if (!authorized(rp, q, r)) return;
            std::string commit;
            const File* dummy = nullptr;
            (void)dummy;
            if (!resolveRev(*rp, q.matches[3].str(), commit)) return notFound(r, "Revision Not Found");
            std::string j = "{\"id\":\"" + repo + "\",\"sha\":\"" + commit + "\",\"siblings\":[";
            bool first = true;
            for (const auto& f : rp->commits.at(commit)) {
                if (!first) j += ",";
                first = false;
                j += "{\"rfilename\":\"" + f.path + "\"";
                if (f.lfs) {
                    j += ",\"size\":" + std::to_string(f.content.size()) + ",\"blobId\":\"" + f.gitSha1() +
                         "\",\"lfs\":{\"sha256\":\"" + f.sha256() + "\",\"size\":" + std::to_string(f.content.size()) +
                         ",\"pointerSize\":134}";
                } else {
                    j += ",\"size\":" + std::to_string(f.content.size()) + ",\"blobId\":\"" + f.gitSha1() + "\"";
                }
                j += "}";
            }
            j += "]}";
            r.set_content(j, "application/json");
        });
        srv_.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))", [this](const Request& q, Response& r) {
            ++resolveRequests;
            const std::string repo = q.matches[1].str() + "/" + q.matches[2].str();
            const Repo* rp = find(repo);
            if (!authorized(rp, q, r)) return;
            std::string commit;
            if (!resolveRev(*rp, q.matches[3].str(), commit)) return notFound(r, "Revision Not Found");
            const File* f = nullptr;
            for (const auto& x : rp->commits.at(commit))
                if (x.path == q.matches[4].str()) f = &x;
            if (!f) return notFound(r, "Entry Not Found");
            r.set_header("X-Repo-Commit", commit);
            if (f->lfs) {
                r.set_header("ETag", "\"" + f->gitSha1() + "\"");
                r.set_header("X-Linked-Etag", "\"" + f->sha256() + "\"");
                r.set_header("X-Linked-Size", std::to_string(f->content.size()));
                r.set_header("Location", "/cdn/" + f->sha256());
                r.status = 302;
                return;
            }
            r.set_header("ETag", "\"" + f->gitSha1() + "\"");
            serve(q, r, *f);
        });
        srv_.Get(R"(/cdn/([0-9a-f]{64}))", [this](const Request& q, Response& r) {
            const File* f = nullptr;
            for (const auto& [name, repo] : repos)
                for (const auto& [c, files] : repo.commits)
                    for (const auto& x : files)
                        if (x.lfs && x.sha256() == q.matches[1].str()) f = &x;
            if (!f) return notFound(r, "no such object");
            {
                std::lock_guard<std::mutex> l(m_);
                ranges.push_back(q.has_header("Range") ? q.get_header_value("Range") : std::string());
            }
            serve(q, r, *f);
        });
        port = srv_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
        while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~Hub() {
        release();
        srv_.stop();
        if (thread_.joinable()) thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

    // Bytes of a file's body served so far.
    long long served(const std::string& path) {
        std::lock_guard<std::mutex> l(m_);
        return servedBytes[path];
    }
    std::vector<std::string> rangesSeen() {
        std::lock_guard<std::mutex> l(m_);
        return ranges;
    }
    // Transfers of `path` stop after `bytes` until release().
    void stallAt(const std::string& path, long long bytes) {
        std::lock_guard<std::mutex> l(m_);
        stallPath_ = path;
        stallBytes_ = bytes;
        released_ = false;
    }
    void release() {
        {
            std::lock_guard<std::mutex> l(m_);
            released_ = true;
            stallPath_.clear();
        }
        cv_.notify_all();
    }

    std::map<std::string, Repo> repos;
    std::atomic<int> failApi429{0};
    std::atomic<int> apiRequests{0}, resolveRequests{0};
    std::string corruptPath;  // its bytes go out with one flipped (headers stay right)
    int port = 0;

private:
    const Repo* find(const std::string& repo) const {
        auto it = repos.find(repo);
        return it == repos.end() ? nullptr : &it->second;
    }
    static void notFound(httplib::Response& r, const std::string& what) {
        r.status = 404;
        r.set_header("X-Error-Code", "RepoNotFound");
        r.set_content("{\"error\":\"" + what + "\"}", "application/json");
    }
    bool authorized(const Repo* rp, const httplib::Request& q, httplib::Response& r) const {
        if (!rp) {
            // The hub answers 401 for unknown repositories to anonymous callers too; a 404 here
            // keeps the test's two cases apart.
            notFound(r, "Repository Not Found");
            return false;
        }
        if (rp->token.empty()) return true;
        if (q.get_header_value("Authorization") == "Bearer " + rp->token) return true;
        r.status = 401;
        r.set_content("{\"error\":\"Access to this model is restricted. You must be authenticated.\"}", "application/json");
        return false;
    }
    static bool resolveRev(const Repo& rp, const std::string& rev, std::string& commit) {
        if (rp.commits.count(rev)) {
            commit = rev;
            return true;
        }
        auto it = rp.refs.find(rev);
        if (it == rp.refs.end()) return false;
        commit = it->second;
        return true;
    }
    void serve(const httplib::Request&, httplib::Response& r, const File& f) {
        const std::string path = f.path;
        auto body = std::make_shared<std::string>(f.content);
        if (path == corruptPath && !body->empty()) (*body)[body->size() / 2] ^= 0x5a;
        r.set_content_provider(body->size(), "application/octet-stream",
                               [this, body, path](size_t offset, size_t length, httplib::DataSink& sink) {
                                   const size_t chunk = std::min<size_t>(length, 16384);
                                   {
                                       std::unique_lock<std::mutex> l(m_);
                                       if (path == stallPath_ && static_cast<long long>(offset) >= stallBytes_) {
                                           cv_.wait_for(l, std::chrono::seconds(30), [this] { return released_; });
                                           return false;  // the connection is dropped
                                       }
                                   }
                                   size_t n = chunk;
                                   {
                                       std::lock_guard<std::mutex> l(m_);
                                       if (path == stallPath_ && static_cast<long long>(offset + n) > stallBytes_)
                                           n = static_cast<size_t>(stallBytes_ - static_cast<long long>(offset));
                                   }
                                   if (!sink.write(body->data() + offset, n)) return false;
                                   std::lock_guard<std::mutex> l(m_);
                                   servedBytes[path] += static_cast<long long>(n);
                                   return true;
                               });
    }

    httplib::Server srv_;
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    std::map<std::string, long long> servedBytes;
    std::vector<std::string> ranges;
    std::string stallPath_;
    long long stallBytes_ = 0;
    bool released_ = false;
};

}  // namespace fakehub
