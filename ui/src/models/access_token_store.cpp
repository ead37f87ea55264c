#include "access_token_store.h"

#include <QSettings>
#include <qt6keychain/keychain.h>

namespace ipsui {

namespace {
const QString kService = QStringLiteral("IP Studio");
const QString kKey = QStringLiteral("huggingface-access-token");
const QString kSettingsKey = QStringLiteral("downloads/token");  // the stated fallback (and where older versions kept it)
}  // namespace

AccessTokenStore::AccessTokenStore(QObject* parent) : QObject(parent) {}

bool AccessTokenStore::secretStoreDisabled() { return qEnvironmentVariableIntValue("IPS_NO_SECRET_STORE") == 1; }

void AccessTokenStore::load() {
    const QString fallback = QSettings().value(kSettingsKey).toString();
    if (secretStoreDisabled()) {
        QMetaObject::invokeMethod(this, [this, fallback] { Q_EMIT loaded(fallback); }, Qt::QueuedConnection);
        return;
    }
    auto* job = new QKeychain::ReadPasswordJob(kService, this);
    job->setKey(kKey);
    connect(job, &QKeychain::Job::finished, this, [this, fallback](QKeychain::Job* j) {
        auto* read = static_cast<QKeychain::ReadPasswordJob*>(j);
        // Not there (or no store at all): the settings file, where an older version or the fallback put it.
        Q_EMIT loaded(read->error() == QKeychain::NoError ? read->textData() : fallback);
    });
    job->start();
}

void AccessTokenStore::saveToSettings(const QString& token, const QString& why) {
    QSettings settings;
    if (token.isEmpty()) settings.remove(kSettingsKey);
    else settings.setValue(kSettingsKey, token);
    Q_EMIT saved(token.isEmpty() ? tr("removed") : tr("in %1 (%2)").arg(settings.fileName(), why));
}

void AccessTokenStore::save(const QString& token) {
    if (secretStoreDisabled()) {
        saveToSettings(token, tr("the secret store is switched off"));
        return;
    }
    QKeychain::Job* job = nullptr;
    if (token.isEmpty()) {
        auto* remove = new QKeychain::DeletePasswordJob(kService, this);
        remove->setKey(kKey);
        job = remove;
    } else {
        auto* write = new QKeychain::WritePasswordJob(kService, this);
        write->setKey(kKey);
        write->setTextData(token);
        job = write;
    }
    connect(job, &QKeychain::Job::finished, this, [this, token](QKeychain::Job* j) {
        if (j->error() == QKeychain::NoError || (token.isEmpty() && j->error() == QKeychain::EntryNotFound)) {
            QSettings().remove(kSettingsKey);  // never in two places
            Q_EMIT saved(token.isEmpty() ? tr("removed") : tr("in the desktop's secret store"));
            return;
        }
        saveToSettings(token, tr("no secret store answered: %1").arg(j->errorString()));
    });
    job->start();
}

}  // namespace ipsui
