#!/bin/sh
# Install (or remove) the checkpoint kiosk on a Raspberry Pi OS Bookworm machine.
#
#   sudo ./systemd/install.sh --secret FILE --root-key FILE
#                                             install, and enable the kiosk and its sync timer
#   sudo ./systemd/install.sh --street-server also enable the street server on this machine
#   sudo ./systemd/install.sh --uninstall     stop and remove units and /opt/kiosk (keeps /etc/kiosk
#                                             and /var/lib/kiosk; add --purge to delete them too)
#
#   --secret FILE     copy FILE to /etc/kiosk/credentials/kiosk.secret (the kiosk's sync secret,
#                     printed by `street-server kiosk add ID`)
#   --root-key FILE   copy the street's root public key to /etc/kiosk/root.pub (trust anchor for codes)
#   --street-ca FILE  copy the street's CA certificate (`street-server tls init`: ca.crt) to
#                     /etc/kiosk/street-ca.crt, the only CA the https:// server_url is checked against
#
# A fresh install writes /etc/kiosk/kiosk.toml from the example and does NOT start the kiosk: set
# [kiosk] id and compound and [sync] server_url first, then `sudo systemctl restart kiosk
# kiosk-sync.timer`. An existing kiosk.toml is never overwritten; an upgrade restarts a running kiosk.
#
# Options for testing and packaging:
#   --root DIR        install into DIR instead of / (nothing outside DIR is touched; implies
#                     --no-packages and --no-start)
#   --no-packages     skip apt-get and the Python virtual environment
#   --no-start        enable units but do not start them
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=""
PACKAGES=1
START=1
UNINSTALL=0
PURGE=0
STREET=0
SECRET=""
ROOTKEY=""
STREETCA=""

fail() { echo "install.sh: $*" >&2; exit 2; }
# an option's value: present, and not the next option (`--secret --root-key x` is a typo)
value() { [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || fail "$1 needs a value (see --help)"; }
# --help: the comment block at the top, without the shell that follows it
usage() { sed -n '2,/^set -eu$/p' "$0" | sed -n 's/^# \{0,1\}//p'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) value "$@"; ROOT=$(cd "$2" 2>/dev/null && pwd) || fail "--root $2: no such directory"
                PACKAGES=0; START=0; shift ;;
        --no-packages) PACKAGES=0 ;;
        --no-start) START=0 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        --street-server) STREET=1 ;;
        --secret) value "$@"; [ -f "$2" ] && [ -r "$2" ] || fail "--secret $2: no such readable file"
                  SECRET="$2"; shift ;;
        --root-key) value "$@"; [ -f "$2" ] && [ -r "$2" ] || fail "--root-key $2: no such readable file"
                    ROOTKEY="$2"; shift ;;
        --street-ca) value "$@"; [ -f "$2" ] && [ -r "$2" ] || fail "--street-ca $2: no such readable file"
                     STREETCA="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) fail "unknown option $1 (see --help)" ;;
    esac
    shift
done

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo ./systemd/install.sh)" >&2
    exit 1
fi

OPT="$ROOT/opt/kiosk"
ETC="$ROOT/etc/kiosk"
UNITDIR="$ROOT/etc/systemd/system"
SYSUSERS="$ROOT/usr/lib/sysusers.d/kiosk.conf"
TMPFILES="$ROOT/usr/lib/tmpfiles.d/kiosk.conf"
UNITS="kiosk.service kiosk-sync.service kiosk-sync.timer street-server.service"
SYSTEMCTL="systemctl"
[ -n "$ROOT" ] && SYSTEMCTL="systemctl --root=$ROOT"

say() { echo "install.sh: $*"; }

if [ "$UNINSTALL" -eq 1 ]; then
    for unit in $UNITS; do
        if [ -z "$ROOT" ]; then systemctl disable --now "$unit" 2>/dev/null || true
        else $SYSTEMCTL disable "$unit" 2>/dev/null || true; fi
        rm -f "$UNITDIR/$unit"
    done
    [ -z "$ROOT" ] && systemctl daemon-reload
    rm -rf "$OPT" "$SYSUSERS" "$TMPFILES"
    if [ "$PURGE" -eq 1 ]; then
        rm -rf "$ETC" "$ROOT/var/lib/kiosk" "$ROOT/var/lib/street-server"
        say "removed units, /opt/kiosk, /etc/kiosk and all kiosk data"
    else
        say "removed units and /opt/kiosk; kept /etc/kiosk and /var/lib/kiosk (--purge deletes them)"
    fi
    exit 0
fi

# 1. System packages and the virtual environment -------------------------------------------
if [ "$PACKAGES" -eq 1 ]; then
    say "installing system packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-venv python3-dev libzbar0 espeak-ng alsa-utils
    # lgpio is the pin factory that works on every Pi, including the Pi 5 (gpiozero docs).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-lgpio \
        || say "python3-lgpio not available from apt; set [gpio] pin_factory to one that is"
    say "creating $OPT/venv"
    mkdir -p "$OPT"
    # --system-site-packages lets the venv see apt's lgpio (its pip build needs swig and headers).
    python3 -m venv --system-site-packages "$OPT/venv"
    "$OPT/venv/bin/pip" install -q --upgrade pip
    "$OPT/venv/bin/pip" install -q "$SRC"
fi

# 2. Users, directories, configuration, credentials ---------------------------------------
mkdir -p "$(dirname "$SYSUSERS")" "$(dirname "$TMPFILES")" "$UNITDIR"
install -m 0644 "$SRC/systemd/kiosk.sysusers" "$SYSUSERS"
install -m 0644 "$SRC/systemd/kiosk.tmpfiles" "$TMPFILES"
if [ -n "$ROOT" ]; then
    systemd-sysusers --root="$ROOT" "$SYSUSERS"
    systemd-tmpfiles --create --root="$ROOT" "$TMPFILES"
else
    systemd-sysusers "$SYSUSERS"
    systemd-tmpfiles --create "$TMPFILES"
fi
mkdir -p "$ETC/credentials"
chmod 0700 "$ETC/credentials"
if [ -n "$ROOTKEY" ]; then
    install -m 0644 "$ROOTKEY" "$ETC/root.pub"
    say "installed the street's root key as /etc/kiosk/root.pub"
fi
if [ -n "$STREETCA" ]; then
    install -m 0644 "$STREETCA" "$ETC/street-ca.crt"
    say "installed the street's CA as /etc/kiosk/street-ca.crt"
fi
FRESH=0
if [ -e "$ETC/kiosk.toml" ]; then
    say "keeping existing $ETC/kiosk.toml"
else
    FRESH=1
    install -m 0644 "$SRC/config/kiosk.example.toml" "$ETC/kiosk.toml"
    if [ -e "$ETC/root.pub" ]; then
        sed -i 's|^# root_key = <unset>$|root_key = "/etc/kiosk/root.pub"|' "$ETC/kiosk.toml"
    fi
    if [ -e "$ETC/street-ca.crt" ]; then
        sed -i 's|^# ca_file = <unset>$|ca_file = "/etc/kiosk/street-ca.crt"|' "$ETC/kiosk.toml"
    fi
    say "wrote $ETC/kiosk.toml from the example: set [kiosk] id, compound and gate, and [sync] server_url"
fi
if ! grep -q '^root_key' "$ETC/kiosk.toml"; then
    say "no trust anchor yet: rerun with --root-key root.pub (from the street office), or set [codes] root_key;"
    say "  until then every code is refused and residents need the volunteer"
fi
if [ -n "$SECRET" ]; then
    install -m 0600 "$SECRET" "$ETC/credentials/kiosk.secret"
    say "installed the kiosk secret"
elif [ ! -e "$ETC/credentials/kiosk.secret" ]; then
    say "no kiosk secret yet: on the street server run 'street-server kiosk add <id>', then"
    say "  install -m 0600 <file> /etc/kiosk/credentials/kiosk.secret (or rerun with --secret FILE)"
fi

# 3. Voice clips (rendered once with espeak-ng; the kiosk plays them with aplay) ---------------
if [ "$PACKAGES" -eq 1 ]; then
    runuser -u kiosk -- "$OPT/venv/bin/kiosk" voice build --config /etc/kiosk/kiosk.toml >/dev/null \
        && say "rendered the voice clips into /var/lib/kiosk/voice" \
        || say "could not render voice clips; espeak-ng will speak instead (run 'kiosk voice build' later)"
fi

# 4. Units ------------------------------------------------------------------------------------
for unit in $UNITS; do
    install -m 0644 "$SRC/systemd/$unit" "$UNITDIR/$unit"
done
[ -z "$ROOT" ] && systemctl daemon-reload
ENABLE="kiosk.service kiosk-sync.timer"
[ "$STREET" -eq 1 ] && ENABLE="$ENABLE street-server.service"
if [ "$START" -eq 1 ] && [ "$FRESH" -eq 0 ]; then
    # an upgrade of a configured kiosk: run the new code
    $SYSTEMCTL enable --now $ENABLE
    $SYSTEMCTL try-restart kiosk.service
    say "done: $ENABLE enabled and running. Check it: sudo /opt/kiosk/venv/bin/kiosk selftest"
else
    # a fresh configuration is the example's: the kiosk starts once it knows who it is
    $SYSTEMCTL enable $ENABLE
    [ "$STREET" -eq 1 ] && [ "$START" -eq 1 ] && $SYSTEMCTL start street-server.service
    say "done: $ENABLE enabled, the kiosk not started. Next:"
    say "  sudoedit /etc/kiosk/kiosk.toml     (set [kiosk] id and compound, [sync] server_url; check the pin map)"
    say "  sudo systemctl restart kiosk kiosk-sync.timer"
    say "  sudo /opt/kiosk/venv/bin/kiosk selftest"
fi
