#!/bin/sh
# Install dedup for production: a system user, its folders with their modes, a venv under
# /opt/dedup from the wheel, the configuration (never overwritten), the operator docs and the
# systemd units (nightly batch + timer, check service, dashboard) and the cron alternative.
#
#   sudo deploy/install.sh dist/dicom_dedup-*.whl        # then edit /etc/dedup/dedup.toml
#   deploy/install.sh --root /tmp/try --no-user WHEEL     # into another root (tests, images)
#
# Options: --root DIR (default /), --no-user (no useradd/chown: for a root you do not own),
# --python PATH (default python3), --pip-args "ARGS" (extra pip install arguments).
# It enables nothing: it prints the systemctl lines to run.
set -eu

root=/ user=yes python=python3 pip_args=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=$2; shift 2 ;;
        --no-user) user=no; shift ;;
        --python) python=$2; shift 2 ;;
        --pip-args) pip_args=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || { echo "install.sh: give the wheel to install (see --help)" >&2; exit 64; }
wheel=$1
[ -f "$wheel" ] || { echo "install.sh: no wheel at $wheel" >&2; exit 66; }
here=$(cd "$(dirname "$0")" && pwd)
root=${root%/}

if [ "$user" = yes ] && ! id dedup >/dev/null 2>&1; then
    useradd --system --home /var/lib/dedup --shell /usr/sbin/nologin dedup
fi
owner() { [ "$user" = yes ] && echo "-o dedup -g dedup" || true; }
group() { [ "$user" = yes ] && echo "-g dedup" || true; }

# state and logs: the batch writes only these; config: readable by the group only
install -d -m 750 $(owner) "$root/var/lib/dedup" "$root/var/log/dedup"
install -d -m 700 $(owner) "$root/var/lib/dedup/state"  # check log + key (state_dir)
install -d -m 750 $(group) "$root/etc/dedup"
install -d -m 755 "$root/opt/dedup" "$root/opt/dedup/docs" "$root/etc/systemd/system" \
    "$root/etc/cron.d"

"$python" -m venv "$root/opt/dedup/.venv"
# shellcheck disable=SC2086
"$root/opt/dedup/.venv/bin/pip" install --quiet $pip_args "$wheel"

if [ ! -e "$root/etc/dedup/dedup.toml" ]; then
    install -m 640 $(group) "$here/dedup.toml" "$root/etc/dedup/dedup.toml"
fi
if [ ! -e "$root/etc/dedup/dedup.env" ]; then  # secrets: PACS password, service tokens
    install -m 600 $(owner) /dev/null "$root/etc/dedup/dedup.env"
fi
install -m 644 "$here"/../docs/running-nightly.md "$here"/../docs/check-service.md \
    "$here"/../docs/dashboard.md "$root/opt/dedup/docs/"
install -m 644 "$here"/dedup-nightly.service "$here"/dedup-nightly.timer \
    "$here"/dedup-serve.service "$here"/dedup-dashboard.service "$root/etc/systemd/system/"
install -m 644 "$here"/dedup-nightly.cron "$root/opt/dedup/docs/dedup-nightly.cron"
install -m 644 "$here"/nginx-dedup.conf "$root/opt/dedup/docs/nginx-dedup.conf"

cat <<DONE
dedup installed in $root/opt/dedup/.venv ($("$root/opt/dedup/.venv/bin/dedup" --version 2>/dev/null || echo "dedup"))
next: edit $root/etc/dedup/dedup.toml and $root/etc/dedup/dedup.env, then
  systemctl daemon-reload
  systemctl enable --now dedup-nightly.timer      # or copy $root/opt/dedup/docs/dedup-nightly.cron to /etc/cron.d/
  systemctl enable --now dedup-serve dedup-dashboard
  # TLS and per-client limits in front of the check service: $root/opt/dedup/docs/nginx-dedup.conf
DONE
