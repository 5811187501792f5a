#include "ui/documents_options.h"

#include "ui/documents_job.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSettings>
#include <QSpinBox>

namespace qcw::ui {

DocumentsOptionsBar::DocumentsOptionsBar(QWidget* parent) : QWidget(parent) {
    auto* options = new QHBoxLayout(this);
    options->setContentsMargins(0, 0, 0, 0);
    options->addWidget(new QLabel(tr("Record length:")));
    maxTokens_ = new QSpinBox;
    maxTokens_->setObjectName(QStringLiteral("max-tokens"));
    maxTokens_->setRange(32, 8192);
    maxTokens_->setValue(512);
    maxTokens_->setSuffix(tr(" tokens"));
    options->addWidget(maxTokens_);
    options->addWidget(new QLabel(tr("Held out:")));
    evalFraction_ = new QDoubleSpinBox;
    evalFraction_->setObjectName(QStringLiteral("eval-fraction"));
    evalFraction_->setRange(0.0, 0.5);
    evalFraction_->setSingleStep(0.05);
    evalFraction_->setDecimals(2);
    evalFraction_->setToolTip(tr("Share of the source files written to eval.jsonl"));
    options->addWidget(evalFraction_);
    anonymizeIps_ = new QCheckBox(tr("Anonymise IPs"));
    anonymizeIps_->setObjectName(QStringLiteral("anonymize-ips"));
    anonymizeEmails_ = new QCheckBox(tr("Anonymise e-mails"));
    anonymizeEmails_->setObjectName(QStringLiteral("anonymize-emails"));
    options->addWidget(anonymizeIps_);
    options->addWidget(anonymizeEmails_);
    options->addWidget(new QLabel(tr("Exclude:")));
    exclude_ = new QLineEdit;
    exclude_->setObjectName(QStringLiteral("exclude-patterns"));
    exclude_->setPlaceholderText(tr("globs, e.g. *.log drafts/*"));
    options->addWidget(exclude_, 1);

    connect(maxTokens_, &QSpinBox::valueChanged, this, &DocumentsOptionsBar::changed);
    connect(evalFraction_, &QDoubleSpinBox::valueChanged, this, &DocumentsOptionsBar::changed);
    connect(anonymizeIps_, &QCheckBox::toggled, this, &DocumentsOptionsBar::changed);
    connect(anonymizeEmails_, &QCheckBox::toggled, this, &DocumentsOptionsBar::changed);
    connect(exclude_, &QLineEdit::editingFinished, this, &DocumentsOptionsBar::changed);
}

void DocumentsOptionsBar::fill(DocumentsRequest& r) const {
    for (const QString& e : excludePatterns()) r.exclude.push_back(e.toStdString());
    r.maxTokens = maxTokens_->value();
    r.evalFraction = evalFraction_->value();
    r.anonymizeIps = anonymizeIps_->isChecked();
    r.anonymizeEmails = anonymizeEmails_->isChecked();
}

QStringList DocumentsOptionsBar::excludePatterns() const {
    return exclude_->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
}

void DocumentsOptionsBar::setExcludePatterns(const QStringList& globs) { exclude_->setText(globs.join(QStringLiteral(" "))); }

void DocumentsOptionsBar::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("maxTokens"), maxTokens_->value());
    s.setValue(QStringLiteral("evalFraction"), evalFraction_->value());
    s.setValue(QStringLiteral("anonymizeIps"), anonymizeIps_->isChecked());
    s.setValue(QStringLiteral("anonymizeEmails"), anonymizeEmails_->isChecked());
    s.setValue(QStringLiteral("exclude"), exclude_->text());
}

void DocumentsOptionsBar::restoreSettings(QSettings& s) {
    const QSignalBlocker b1(maxTokens_), b2(evalFraction_), b3(anonymizeIps_), b4(anonymizeEmails_), b5(exclude_);
    maxTokens_->setValue(s.value(QStringLiteral("maxTokens"), maxTokens_->value()).toInt());
    evalFraction_->setValue(s.value(QStringLiteral("evalFraction"), evalFraction_->value()).toDouble());
    anonymizeIps_->setChecked(s.value(QStringLiteral("anonymizeIps"), false).toBool());
    anonymizeEmails_->setChecked(s.value(QStringLiteral("anonymizeEmails"), false).toBool());
    exclude_->setText(s.value(QStringLiteral("exclude")).toString());
}

}  // namespace qcw::ui
