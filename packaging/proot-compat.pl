#!/usr/bin/perl
# proot-compat.pl CMD...: runs CMD with the system calls that Debian's proot
# (5.1.0) does not know failing with ENOSYS, so that what runs under it
# falls back to the older calls that proot does translate into the guest
# root. Without it, qemu passes a guest's statx, faccessat2, ... straight to
# this machine's kernel, which then answers for this machine's paths: on
# armhf, where glibc stats through statx, dpkg sees none of the root's
# files. glibc and qemu both fall back to fstatat, faccessat, openat,
# renameat and execve on ENOSYS, as they do on kernels older than these
# calls. A seccomp filter, inherited by every child; proot's own filter
# cannot override an errno (seccomp lets the strictest action win).
use strict;
use warnings;

# This machine's AUDIT_ARCH, the numbers of prctl and seccomp, and of the
# calls to refuse: statx faccessat2 fchmodat2 openat2 execveat renameat2.
my %host = (
	x86_64  => [0xc000003e, 157, 317, [332, 439, 452, 437, 322, 316]],
	aarch64 => [0xc00000b7, 167, 277, [291, 439, 452, 437, 281, 276]],
);
chomp(my $machine = `uname -m`);
my $h = $host{$machine} or die "proot-compat.pl: no system call numbers for $machine\n";
my ($audit, $prctl, $seccomp, $nr) = @$h;
@ARGV or die "usage: proot-compat.pl CMD...\n";

use constant {
	LD_ABS => 0x20, JEQ => 0x15, RET => 0x06,    # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
	ALLOW  => 0x7fff0000, ERRNO => 0x00050000, ENOSYS => 38,
};
# seccomp_data: nr at offset 0, arch at 4. Another arch's calls pass.
my @f = ([LD_ABS, 0, 0, 4], [JEQ, 1, 0, $audit], [RET, 0, 0, ALLOW], [LD_ABS, 0, 0, 0]);
my $n = @$nr;
push @f, [JEQ, $n - $_, 0, $nr->[$_]] for 0 .. $n - 1;    # a match jumps to the errno
push @f, [RET, 0, 0, ALLOW], [RET, 0, 0, ERRNO | ENOSYS];
my $prog = join "", map { pack "S C C L", @$_ } @f;        # struct sock_filter
my $fprog = pack "S x6 P", scalar(@f), $prog;              # struct sock_fprog

syscall($prctl, 38, 1, 0, 0, 0) == 0 or die "proot-compat.pl: prctl(PR_SET_NO_NEW_PRIVS): $!\n";
syscall($seccomp, 1, 0, $fprog) == 0 or die "proot-compat.pl: seccomp(SECCOMP_SET_MODE_FILTER): $!\n";
exec { $ARGV[0] } @ARGV or die "proot-compat.pl: exec $ARGV[0]: $!\n";
