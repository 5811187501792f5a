#include "ui/secret_kinds.h"

#include <QCoreApplication>

#include <map>

namespace qcw::ui {

QString secretKindLabel(const std::string& kind) {
    static const std::map<std::string, const char*> labels = {
        {"private_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "private key")},
        {"fortigate_psk", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate pre-shared key")},
        {"fortigate_password", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate password")},
        {"fortigate_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate key")},
        {"fortigate_secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate secret")},
        {"storage_account_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "storage account key")},
        {"shared_access_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "shared access key")},
        {"sas_token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "SAS token signature")},
        {"connection_string_password", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "connection-string password")},
        {"azure_client_secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "Azure AD client secret")},
        {"access_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "access key")},
        {"api_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "API key")},
        {"api_token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "API token")},
        {"bearer_token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "bearer token")},
        {"jwt", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "JSON web token")},
        {"high_entropy_secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "high-entropy string near a secret word")},
        {"arm_secret_parameter", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "ARM secret parameter value")},
        {"terraform_secret_default", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "Terraform secret variable default")},
        {"password", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "password")},
        {"secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "secret")},
        {"psk", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "pre-shared key")},
        {"token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "token")},
        {"canary", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "planted canary string")},
        {"ip", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "IP address")},
        {"email", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "e-mail address")},
    };
    auto it = labels.find(kind);
    return it != labels.end() ? QCoreApplication::translate("qcw::ui::DocumentsPane", it->second) : QString::fromStdString(kind).replace(QLatin1Char('_'), QLatin1Char(' '));
}

bool isAnonymization(const std::string& kind) { return kind == "ip" || kind == "email"; }

}  // namespace qcw::ui
