; Inno Setup script: a Windows installer around the PyInstaller folder dist\WearSync\.
; Build on Windows (not built or tested on the Linux machines WearSync is developed on):
;   py -3.11 bootstrap.py run --group bundle python installer\build.py
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installer\windows\wearsync.iss
; Result: dist\WearSync-Setup.exe. Per-user install (no administrator rights), Start-menu entry,
; optional start at sign-in (the same HKCU Run value `main.py autostart enable` writes).

#define AppVersion "0.1.0"

[Setup]
AppId={{8C3E1B52-6F0A-4C8E-9C55-2E5B7A1D4F10}
AppName=WearSync
AppVersion={#AppVersion}
AppPublisher=WearSync
DefaultDirName={localappdata}\Programs\WearSync
DefaultGroupName=WearSync
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=WearSync-Setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\WearSync.exe

[Tasks]
Name: "autostart"; Description: "Start WearSync in the tray when I sign in"; GroupDescription: "Start:"

[Files]
Source: "..\..\dist\WearSync\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\WearSync"; Filename: "{app}\WearSync.exe"
Name: "{group}\Uninstall WearSync"; Filename: "{uninstallexe}"

[Registry]
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "WearSync"; \
  ValueData: """{app}\WearSync.exe"" --minimized"; Flags: uninsdeletevalue; Tasks: autostart

[Run]
Filename: "{app}\WearSync.exe"; Description: "Open WearSync now"; Flags: nowait postinstall skipifsilent
