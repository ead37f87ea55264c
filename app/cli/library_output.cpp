#include "library_output.h"

#include <QCoreApplication>
#include <QDir>
#include <QSettings>
#include <QStandardPaths>
#include <iostream>
#include <memory>

#include "cli_args.h"
#include "ips/errors.h"
#include "qt_convert.h"
#include "result_library.h"

namespace ipscli {

namespace {

// Qt SQL loads its SQLite driver as a plugin, which needs an application object; the CLI makes one only
// when the library is used. Named as the window is, so both find the same settings and data folder.
void ensure_qt_application() {
    if (QCoreApplication::instance()) return;
    static int argc = 1;
    static char name[] = "ipstudio-cli";
    static char* argv[] = {name, nullptr};
    static auto* app = new QCoreApplication(argc, argv);
    (void)app;
    QCoreApplication::setOrganizationName(QStringLiteral("IPStudio"));
    QCoreApplication::setApplicationName(QStringLiteral("ipstudio"));
}

ipsui::ResultLibrary open_library(const std::filesystem::path& folder) {
    ensure_qt_application();
    ipsui::ResultLibrary library(ipsui::fromFsPath(folder));
    QString error, notice;
    if (!library.open(&error, &notice)) throw ips::InputError("library " + ipsui::fromFsPath(folder).toStdString() + ": " + error.toStdString());
    if (!notice.isEmpty()) std::cerr << "note: " << notice.toStdString() << "\n";
    return library;
}

}  // namespace

std::optional<std::filesystem::path> library_folder(const Args& args) {
    if (auto dir = args.value("--library")) return std::filesystem::u8path(*dir);
    if (!args.has("--to-library")) return std::nullopt;
    ensure_qt_application();
    const QString fallback = QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath(QStringLiteral("library"));
    return ipsui::toFsPath(QSettings().value(QStringLiteral("library/folder"), fallback).toString());
}

std::vector<std::filesystem::path> write_to_library(const std::filesystem::path& folder, const ips::GenerationRequest& request,
                                                    const std::vector<ips::Image>& images, std::uint64_t seed) {
    ipsui::ResultLibrary library = open_library(folder);
    std::vector<std::filesystem::path> written;
    for (const ips::Image& image : images) {
        QString error;
        const auto record = library.add(request, ipsui::toQImage(image), seed, &error);
        if (!record) throw ips::InputError("library " + ipsui::fromFsPath(folder).toStdString() + ": " + error.toStdString());
        if (!error.isEmpty()) std::cerr << "warning: " << error.toStdString() << "\n";
        written.push_back(ipsui::toFsPath(library.pathOf(*record)));
    }
    return written;
}

int run_import(const std::vector<std::string>& argv) {
    const Args a(argv, {"--to-library"}, {"--library"});
    if (a.positional().size() != 1) throw UsageError{"expected the FOLDER of PNG files to import"};
    const auto folder = library_folder(a);
    if (!folder) throw UsageError{"--library DIR or --to-library is required"};
    const std::filesystem::path source = std::filesystem::u8path(a.positional().front());
    if (!std::filesystem::is_directory(source)) throw ips::InputError(a.positional().front() + ": not a folder");
    ipsui::ResultLibrary library = open_library(*folder);
    QString error;
    const int n = library.importFolder(ipsui::fromFsPath(source), &error);
    if (!error.isEmpty()) std::cerr << "warning: " << error.toStdString() << "\n";
    std::cout << n << " pictures imported into " << ipsui::fromFsPath(*folder).toStdString() << "\n";
    return kOk;
}

}  // namespace ipscli
