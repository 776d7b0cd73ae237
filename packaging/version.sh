#!/bin/sh
# version.sh prints the package version: from the nearest tag
# (v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234), or with no tag yet
# 0~git<commit time, UTC>.<hash>, which sorts below any 0.x or 1.x tag so
# that the first tagged release upgrades it.
set -eu
if d=$(git describe --tags 2>/dev/null); then
	v=$(printf '%s\n' "$d" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)$/+\1.g\2/')
else
	# what `git describe --tags --always` says without a tag: the hash
	d=$(git describe --tags --always)
	t=$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd)
	v="0~git$t.$d"
fi
dpkg --validate-version "$v" >&2 || { echo "version.sh: $v is no Debian version; set VERSION=" >&2; exit 1; }
printf '%s\n' "$v"
