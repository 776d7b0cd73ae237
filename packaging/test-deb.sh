#!/bin/sh
# test-deb.sh VERSION ARCH...: installs smsgate_VERSION_ARCH.deb (make deb)
# the way a user does, with dpkg -i in a Debian root of ARCH, checks what
# the maintainer scripts promise through install, upgrade, remove and
# purge, and runs lintian. `make deb-test` runs it for armhf and arm64.
#
# No binfmt_misc and no other optional kernel feature: mmdebstrap builds
# the root in chrootless mode (the host's dpkg unpacks and configures it,
# nothing of ARCH runs), and every program of ARCH then runs under
# `proot -q qemu-ARCH-static`, which catches each exec and puts qemu in
# front of it; proot-compat.pl makes the system calls Debian's proot does
# not translate fall back to ones it does. Nothing needs root: as root it
# runs all that as nobody, so a maintainer script that forgot its root
# cannot touch this machine.
#
# Needs: apt-get install mmdebstrap fakeroot proot qemu-user-static lintian
# (and systemd for one more check), and Debian's mirror through apt.
# SUITE (default trixie, which Raspberry Pi OS is built on) and MIRROR
# override mmdebstrap's defaults. Everything lives in one directory under
# /tmp, removed at exit.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 VERSION ARCH..." >&2; exit 2; }
version=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
suite=${SUITE:-trixie}
unit=smsgate.service
wants=etc/systemd/system/multi-user.target.wants/$unit

for t in mmdebstrap fakeroot proot lintian; do
	command -v "$t" >/dev/null || { echo "test-deb.sh: $t is missing: apt-get install $t" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/smsgate-deb-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$top/packaging/proot-compat.pl" "$work/"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$work"
	user() { runuser -u nobody -- env HOME="$work" "$@"; }
else
	user() { env HOME="$work" "$@"; }
fi

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# check DESC CMD...: CMD must succeed
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}
# same DESC GOT WANT
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}
elapsed() { echo "--- $1: $(($(date +%s) - t0)) s"; }

# guest CMD...: CMD run inside $root as root, under qemu user emulation of
# $qemu; /dev/null is the only thing of this machine it sees.
guest() {
	user env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		perl "$work/proot-compat.pl" proot -q "$qemu" -0 -r "$root" -b /dev/null -w / "$@"
}
# the calls the systemctl stand-in saw, one a line, then forgotten
calls() { cat "$root/var/log/systemctl.calls" 2>/dev/null || true; : >"$root/var/log/systemctl.calls"; }
# not_started CALLS: no systemctl start or restart among CALLS
not_started() { ! printf '%s\n' "$1" | grep -Eqw 'start|restart'; }
status() { guest dpkg-query -W -f '${Status}' smsgate 2>/dev/null || true; }

# systemctl as if systemd ran: it logs each call and answers is-enabled
# from the links deb-systemd-helper made; nothing is ever active.
stub='#!/bin/sh
echo "$*" >>/var/log/systemctl.calls
for a; do
	case "$a" in
	is-enabled)
		eval "u=\${$#}"
		if [ -L "/etc/systemd/system/multi-user.target.wants/$u" ]; then echo enabled; exit 0; fi
		echo disabled; exit 1 ;;
	is-active) exit 3 ;;
	esac
done
exit 0'

test_arch() {
	arch=$1
	case "$arch" in
	arm64) qemu=qemu-aarch64-static machine=aarch64 ;;
	armhf) qemu=qemu-arm-static machine=armv7l ;;
	*) echo "test-deb.sh: no qemu for $arch" >&2; exit 2 ;;
	esac
	qemu=$(command -v "$qemu") || { echo "test-deb.sh: $qemu is missing: apt-get install qemu-user-static" >&2; exit 1; }
	deb=$top/smsgate_${version}_$arch.deb
	[ -f "$deb" ] || { echo "test-deb.sh: no $deb: make deb" >&2; exit 1; }
	root=$work/$arch
	echo "=== $arch: Debian $suite root"
	t0=$(date +%s)
	# A second try for a mirror that failed once; the root is made anew.
	for try in 1 2; do
		user fakeroot mmdebstrap --quiet --mode=chrootless --variant=essential \
			--include=init-system-helpers --arch="$arch" "$suite" "$root" ${MIRROR:+"$MIRROR"} && break
		[ "$try" = 1 ] || { echo "test-deb.sh: mmdebstrap failed twice" >&2; exit 1; }
		echo "*** mmdebstrap failed: once more" >&2
		rm -rf "$root"
	done
	elapsed "$arch root"
	cp "$deb" "$root/tmp/smsgate.deb"
	chmod 0644 "$root/tmp/smsgate.deb"
	same "$arch: programs run as $machine" "$(guest uname -m)" "$machine"

	echo "=== $arch: dpkg -i, systemd not running (as in an image being built)"
	t0=$(date +%s)
	out=$(guest dpkg -i /tmp/smsgate.deb 2>&1) || fail "$arch: dpkg -i: $out"
	check "$arch: postinst says to set -allow" grep -q 'set -allow' <<EOF
$out
EOF
	same "$arch: installed" "$(status)" "install ok installed"
	same "$arch: version" "$(guest dpkg-query -W -f '${Version}' smsgate)" "$version"
	help=$(guest smsgate -h 2>&1) || fail "$arch: smsgate -h exits $?"
	check "$arch: smsgate -h lists -allow" grep -q -- '-allow' <<EOF
$help
EOF
	link=$(readlink "$root/$wants" || true)
	case "$link" in
	/lib/systemd/system/$unit | /usr/lib/systemd/system/$unit) ok "$arch: unit enabled ($wants -> $link)" ;;
	*) fail "$arch: unit enabled: $wants -> '$link'" ;;
	esac
	if command -v systemctl >/dev/null; then
		same "$arch: systemctl --root is-enabled" "$(systemctl --root="$root" is-enabled "$unit" 2>&1)" enabled
	fi
	same "$arch: /etc/default/smsgate mode and owner" "$(guest stat -c '%a %U:%G' /etc/default/smsgate)" "600 root:root"
	check "$arch: /etc/default/smsgate is a conffile" grep -q /etc/default/smsgate <<EOF
$(guest dpkg-query -W -f '${Conffiles}' smsgate)
EOF
	check "$arch: /var/lib/smsgate exists" test -d "$root/var/lib/smsgate"

	echo "=== $arch: systemd running (a stand-in systemctl logs the calls)"
	mkdir -p "$root/run/systemd/system"
	printf '%s\n' "$stub" >"$root/usr/bin/systemctl"
	chmod 0755 "$root/usr/bin/systemctl"
	guest dpkg -i /tmp/smsgate.deb >/dev/null 2>&1 || fail "$arch: dpkg -i again"
	c=$(calls)
	check "$arch: unconfigured upgrade reloads systemd" grep -q daemon-reload <<EOF
$c
EOF
	check "$arch: unconfigured: not started" not_started "$c"

	# the owner fills in the file, as README says
	guest sed -i 's/^SMSGATE_FLAGS=""/SMSGATE_FLAGS="-allow=+21612345678 -led=GPIO17"/' /etc/default/smsgate
	guest dpkg -i /tmp/smsgate.deb >/dev/null 2>&1 || fail "$arch: dpkg -i configured"
	check "$arch: configured upgrade restarts smsgate" grep -q "restart $unit" <<EOF
$(calls)
EOF
	check "$arch: the owner's /etc/default/smsgate kept" grep -q '^SMSGATE_FLAGS="-allow=+21612345678' "$root/etc/default/smsgate"

	# the owner disabled it (what systemctl disable does to the links)
	rm "$root/$wants"
	guest dpkg -i /tmp/smsgate.deb >/dev/null 2>&1 || fail "$arch: dpkg -i disabled"
	check "$arch: disabled stays disabled through an upgrade" test ! -e "$root/$wants"
	check "$arch: disabled: not started" not_started "$(calls)"
	ln -s "$link" "$root/$wants" # systemctl enable

	echo "=== $arch: dpkg -r, then dpkg -P"
	echo "lockouts" >"$root/var/lib/smsgate/state"
	guest dpkg -r smsgate >/dev/null 2>&1 || fail "$arch: dpkg -r"
	check "$arch: remove stops smsgate" grep -q "stop $unit" <<EOF
$(calls)
EOF
	same "$arch: removed, config kept" "$(status)" "deinstall ok config-files"
	check "$arch: binary gone" test ! -e "$root/usr/bin/smsgate"
	same "$arch: unit masked" "$(readlink "$root/etc/systemd/system/$unit")" /dev/null
	check "$arch: /etc/default/smsgate kept" grep -q -- '-allow=' "$root/etc/default/smsgate"
	check "$arch: /var/lib/smsgate kept" test -f "$root/var/lib/smsgate/state"

	guest dpkg -P smsgate >/dev/null 2>&1 || fail "$arch: dpkg -P"
	same "$arch: purged" "$(status)" ""
	check "$arch: /etc/default/smsgate gone" test ! -e "$root/etc/default/smsgate"
	check "$arch: /var/lib/smsgate gone" test ! -e "$root/var/lib/smsgate"
	check "$arch: unit links gone" test ! -e "$root/$wants" -a ! -L "$root/$wants" -a ! -L "$root/etc/systemd/system/$unit"
	elapsed "$arch install, upgrade, remove, purge"
}

start=$(date +%s)
debs=
for arch; do
	test_arch "$arch"
	debs="$debs $work/smsgate_${version}_$arch.deb"
	cp "$top/smsgate_${version}_$arch.deb" "$work/"
done

echo "=== lintian"
t0=$(date +%s)
# Errors and warnings fail; the rest is shown. The overrides, each with its
# reason, are in packaging/deb/lintian-overrides.
# shellcheck disable=SC2086 # one word per package
if user lintian --fail-on error,warning -I -E --pedantic $debs; then
	ok "lintian: no error or warning"
else
	fail "lintian"
fi
elapsed lintian
echo "deb-test: $(($(date +%s) - start)) s in all"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
