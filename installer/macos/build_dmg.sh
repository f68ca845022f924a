#!/bin/sh
# macOS: build dist/WearSync.app with PyInstaller and wrap it in dist/WearSync.dmg.
# Run on a Mac with Python 3.11 (not built or tested on the Linux machines WearSync is developed on):
#   sh installer/macos/build_dmg.sh
# The app is not signed or notarised: a clinic's IT signs it with its Developer ID
#   codesign --deep --force --options runtime --sign "Developer ID Application: ..." dist/WearSync.app
#   xcrun notarytool submit dist/WearSync.dmg --keychain-profile ... --wait
# or opens it the first time with right-click → Open.
set -eu
cd "$(dirname "$0")/../.."
python3 bootstrap.py run --group bundle python installer/build.py --no-smoke
rm -f dist/WearSync.dmg
hdiutil create -volname WearSync -srcfolder dist/WearSync.app -ov -format UDZO dist/WearSync.dmg
echo "dist/WearSync.dmg ready. Start at sign-in: WearSync's Settings, or 'WearSync.app/Contents/MacOS/WearSync autostart enable'."
