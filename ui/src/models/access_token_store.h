#pragma once
// The Hugging Face access token (for gated models) kept in the desktop's secret store — Secret Service or
// KWallet, through QtKeychain — where one answers. Where none does (a desktop without one, a headless
// machine), it falls back to the settings file and says so, so the artist knows where it is.
#include <QObject>
#include <QString>

namespace ipsui {

class AccessTokenStore : public QObject {
    Q_OBJECT
public:
    explicit AccessTokenStore(QObject* parent = nullptr);

    // Both answer asynchronously (a secret store may ask the user to unlock it).
    void load();                       // then `loaded`
    void save(const QString& token);   // then `saved`; an empty token removes it

    // IPS_NO_SECRET_STORE=1 skips the secret store (the tests: they must never touch the user's keyring).
    static bool secretStoreDisabled();

Q_SIGNALS:
    void loaded(QString token);
    void saved(QString where);  // a sentence: "in the desktop's secret store" or "in <settings file> (...)"

private:
    void saveToSettings(const QString& token, const QString& why);
};

}  // namespace ipsui
