#!/bin/sh
# build-deb.sh ARCH BINARY VERSION OUTDIR: smsgate_VERSION_ARCH.deb from a
# release binary (make arm / make arm64), with dpkg-deb. The tree is staged
# under build/deb/ and every mode is set here, so the umask does not matter.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 ARCH BINARY VERSION OUTDIR" >&2; exit 2; }
arch=$1 bin=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
maintainer=${MAINTAINER:-smsgate maintainers <maintainers@users.noreply.r-seed-592bbefd.example>}

dpkg --validate-version "$version"
# ELF e_machine, little-endian: a binary for another architecture would
# install and never run.
case "$arch" in
armhf) machine='28 00' ;; # EM_ARM
arm64) machine='b7 00' ;; # EM_AARCH64
*) echo "build-deb.sh: unknown architecture $arch" >&2; exit 2 ;;
esac
got=$(od -An -tx1 -j18 -N2 "$bin" | sed 's/^ *//')
[ "$got" = "$machine" ] || { echo "build-deb.sh: $bin is not for $arch (e_machine $got)" >&2; exit 1; }

root=$top/build/deb/smsgate_${version}_$arch
rm -rf "$root"
doc=$root/usr/share/doc/smsgate
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" \
	"$root/etc/default" "$doc" "$root/usr/share/man/man8" "$root/usr/share/lintian/overrides"
install -m 0755 "$bin" "$root/usr/bin/smsgate"
install -m 0644 "$here/smsgate.service" "$root/usr/lib/systemd/system/smsgate.service"
# the secrets live here: root only
install -m 0600 "$here/deb/default" "$root/etc/default/smsgate"
install -m 0644 "$here/deb/copyright" "$doc/copyright"
install -m 0644 "$here/deb/lintian-overrides" "$root/usr/share/lintian/overrides/smsgate"
gzip -9n <"$here/deb/smsgate.8" >"$root/usr/share/man/man8/smsgate.8.gz"
chmod 0644 "$root/usr/share/man/man8/smsgate.8.gz"

# A native package's changelog: one entry for this build, dated by its
# commit so that two builds of one commit are the same.
date=$(git -C "$top" log -1 --format=%cD 2>/dev/null || date -R)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
printf 'smsgate (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
	"$version" "$commit" "$maintainer" "$date" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

for f in postinst prerm postrm; do
	install -m 0755 "$here/deb/$f" "$root/DEBIAN/$f"
done
install -m 0644 "$here/deb/conffiles" "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print |
	sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@SIZE@|$size|" "$here/deb/control" >"$root/DEBIAN/control"
chmod 0644 "$root/DEBIAN/control"

mkdir -p "$out"
SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s) \
	dpkg-deb --build --root-owner-group -Zxz "$root" "$out/smsgate_${version}_$arch.deb"
