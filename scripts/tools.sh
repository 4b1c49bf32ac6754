#!/usr/bin/env bash
# Install the external tools Strongroom can use for characterisation, validation, full-text extraction and
# migration, quietly and only what is missing (a second run takes a second or two):
#
#   Debian packages  exiftool (libimage-exiftool-perl, + libarchive-zip-perl it needs for zip-based files), mediainfo,
#                    pdftotext and pdfinfo (poppler-utils);
#                    for the migration policy (strongroom/data/migration-policy.toml): LibreOffice without a GUI
#                    (writer, calc, impress) with the metric-compatible Liberation, Carlito and Caladea fonts
#                    (without them Times, Arial, Calibri and Cambria fall back to other fonts and pages reflow),
#                    ImageMagick, FFmpeg, and Ghostscript (its libgs-common holds the sRGB profile PDF/A needs);
#                    Chromium, headless, for the tests that open the pages `strongroom dip` writes
#   Maven Central    JHOVE 1.32 with its format modules, the veraPDF command-line jar, the Apache Tika server jar
#                    and DROID 6.5.2 (the format identification oracle the tests compare Strongroom with),
#                    into $STRONGROOM_TOOLS_DIR (default ~/.local/share/strongroom/tools)
#
#   bash scripts/tools.sh          then: strongroom doctor
#
# Java 17 and Maven come from apt too when they are missing. ClamAV is started by scripts/services.sh.
# Recipes and their traps: ../shared/recipes/tools.md.
set -euo pipefail

TOOLS_DIR="${STRONGROOM_TOOLS_DIR:-$HOME/.local/share/strongroom/tools}"
# Pinned: version ranges made Maven pick releases whose parent POMs need unreachable repositories.
JHOVE_CORE=1.32.1
JHOVE_APPS=1.28.0 # the newest jhove-apps on Central; a fat jar with older core classes, so core goes first on -cp
VERAPDF=1.30.2
TIKA=3.3.2 # 3.3.1 is not on Central; a range made Maven pick 2.9.0, whose parent POM is missing
DROID=6.5.2 # the newest droid-command-line on Central; run with -Ns/-Nc to use current signature files
APT_PACKAGES=(libimage-exiftool-perl libarchive-zip-perl mediainfo poppler-utils
  libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
  fonts-liberation2 fonts-crosextra-carlito fonts-crosextra-caladea
  imagemagick ffmpeg ghostscript
  chromium) # a headless browser opens the DIP pages in the tests (strongroom dip)

say() { printf '%s\n' "$*"; }
die() {
  printf 'tools.sh: %s\n' "$*" >&2
  exit 1
}
installed=()

# --- Debian packages -----------------------------------------------------------------------------------
missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
  done
}

apt_install() {
  local -a want
  mapfile -t want < <(missing_packages "$@")
  [ "${#want[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install ${want[*]} with your system's package manager."
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "installing ${want[*]} needs root: run this script as root or install sudo."
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  local log
  log="$(mktemp)"
  # Update the package lists only when a package cannot be found (a fresh image has none).
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >"$log" 2>&1; then
    "${sudo[@]}" apt-get update -qq >>"$log" 2>&1 || {
      cat "$log" >&2
      die "apt-get update failed (no network or a broken sources list?); see the output above."
    }
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >>"$log" 2>&1 || {
      cat "$log" >&2
      die "apt-get install ${want[*]} failed; see the output above."
    }
  fi
  rm -f "$log"
  installed+=("apt: ${want[*]}")
}

apt_install "${APT_PACKAGES[@]}"
command -v java >/dev/null || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null || apt_install maven

# --- Maven Central jars ------------------------------------------------------------------------------
mkdir -p "$TOOLS_DIR"
TOOLS_DIR="$(cd "$TOOLS_DIR" && pwd)"

mvn_quiet() {
  local log
  log="$(mktemp)"
  if ! mvn -B -q "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# JHOVE: no single jar on Central, so a pom listing core, apps and the modules, and dependency:copy-dependencies.
JHOVE="$TOOLS_DIR/jhove"
mkdir -p "$JHOVE"
jhove_pom="$(
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>strongroom.tools</groupId>
  <artifactId>jhove-bundle</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.openpreservation.jhove</groupId><artifactId>jhove-core</artifactId><version>$JHOVE_CORE</version></dependency>
    <dependency><groupId>org.openpreservation.jhove</groupId><artifactId>jhove-apps</artifactId><version>$JHOVE_APPS</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>pdf-hul</artifactId><version>1.12.7</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>tiff-hul</artifactId><version>1.9.5</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>jpeg-hul</artifactId><version>1.5.4</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>gif-hul</artifactId><version>1.4.3</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>wave-hul</artifactId><version>1.8.3</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>jpeg2000-hul</artifactId><version>1.4.4</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>utf8-hul</artifactId><version>1.7.4</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>xml-hul</artifactId><version>1.5.5</version></dependency>
    <dependency><groupId>org.openpreservation.jhove.modules</groupId><artifactId>html-hul</artifactId><version>1.4.4</version></dependency>
  </dependencies>
</project>
EOF
)"
if [ ! -f "$JHOVE/lib/jhove-core-$JHOVE_CORE.jar" ] || [ "$(cat "$JHOVE/pom.xml" 2>/dev/null)" != "$jhove_pom" ]; then
  printf '%s\n' "$jhove_pom" >"$JHOVE/pom.xml"
  rm -rf "$JHOVE/lib"
  mvn_quiet -f "$JHOVE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$JHOVE/lib" ||
    die "Maven could not fetch JHOVE $JHOVE_CORE from Maven Central (network or proxy?); see the output above."
  installed+=("JHOVE $JHOVE_CORE: $JHOVE/lib")
fi
# Without this config JHOVE knows no modules; and without -m (Strongroom always passes it) any file it
# cannot parse falls back to BYTESTREAM and reads "Well-Formed and valid".
mkdir -p "$JHOVE/home"
jhove_conf="$(
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<jhoveConfig version="1.0" xmlns="http://hul.harvard.edu/ois/xml/ns/jhove/jhoveConfig">
  <jhoveHome>$JHOVE/home</jhoveHome>
  <defaultEncoding>utf-8</defaultEncoding>
  <bufferSize>131072</bufferSize>
  <module><class>edu.harvard.hul.ois.jhove.module.PdfModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.TiffModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.JpegModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.GifModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.WaveModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.AiffModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.Jpeg2000Module</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.Utf8Module</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.XmlModule</class></module>
  <module><class>edu.harvard.hul.ois.jhove.module.HtmlModule</class></module>
</jhoveConfig>
EOF
)"
[ "$(cat "$JHOVE/jhove.conf" 2>/dev/null)" = "$jhove_conf" ] || printf '%s\n' "$jhove_conf" >"$JHOVE/jhove.conf"

# veraPDF: one fat jar.
VERA="$TOOLS_DIR/verapdf"
if [ ! -f "$VERA/cli-$VERAPDF.jar" ]; then
  mkdir -p "$VERA"
  mvn_quiet dependency:copy -Dartifact="org.verapdf.apps:cli:$VERAPDF" -DoutputDirectory="$VERA" ||
    die "Maven could not fetch veraPDF $VERAPDF from Maven Central (network or proxy?); see the output above."
  installed+=("veraPDF $VERAPDF: $VERA/cli-$VERAPDF.jar")
fi

# Apache Tika server: one fat jar; Strongroom starts it on 127.0.0.1 for the length of an ingest.
TIKA_DIR="$TOOLS_DIR/tika"
if [ ! -f "$TIKA_DIR/tika-server-standard-$TIKA.jar" ]; then
  mkdir -p "$TIKA_DIR"
  mvn_quiet dependency:copy -Dartifact="org.apache.tika:tika-server-standard:$TIKA" -DoutputDirectory="$TIKA_DIR" ||
    die "Maven could not fetch the Tika server $TIKA from Maven Central (network or proxy?); see the output above."
  installed+=("Tika server $TIKA: $TIKA_DIR/tika-server-standard-$TIKA.jar")
fi

# DROID: no fat jar on Central, so a pom naming the command line and dependency:copy-dependencies (like JHOVE).
# Run: java -Duser.home=TMP -cp "$TOOLS_DIR/droid/lib/*" uk.gov.nationalarchives.droid.command.DroidCommandLine
#        -Nr DIR -R -Ns SIGFILE -Nc CONTAINERFILE      (user.home: DROID writes its own config under ~/.droid6)
DROID_HOME="$TOOLS_DIR/droid"
mkdir -p "$DROID_HOME"
droid_pom="$(
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>strongroom.tools</groupId>
  <artifactId>droid-bundle</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>uk.gov.nationalarchives</groupId><artifactId>droid-command-line</artifactId><version>$DROID</version></dependency>
  </dependencies>
</project>
EOF
)"
if [ ! -f "$DROID_HOME/lib/droid-command-line-$DROID.jar" ] || [ "$(cat "$DROID_HOME/pom.xml" 2>/dev/null)" != "$droid_pom" ]; then
  printf '%s\n' "$droid_pom" >"$DROID_HOME/pom.xml"
  rm -rf "$DROID_HOME/lib"
  mvn_quiet -f "$DROID_HOME/pom.xml" dependency:copy-dependencies -DoutputDirectory="$DROID_HOME/lib" ||
    die "Maven could not fetch DROID $DROID from Maven Central (network or proxy?); see the output above."
  installed+=("DROID $DROID: $DROID_HOME/lib")
fi

if [ "${#installed[@]}" -eq 0 ]; then
  say "All tools already installed (jars in $TOOLS_DIR). Check them with: strongroom doctor"
else
  say "Installed:"
  for item in "${installed[@]}"; do say "  $item"; done
  say "Jars are in $TOOLS_DIR (set STRONGROOM_TOOLS_DIR to use another folder). Check with: strongroom doctor"
fi
