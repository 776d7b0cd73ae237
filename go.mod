module smsgate

go 1.26.8

require (
	github.com/gokrazy/kernel.arm64 v0.0.0-20260705071517-37841c4d6ff1
	golang.org/x/sys v0.50.0
	periph.io/x/conn/v3 v3.7.3
	periph.io/x/host/v3 v3.8.5
)

require github.com/jonboulle/clockwork v0.5.0 // indirect
