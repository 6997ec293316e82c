// Command kube-controlplane is one multi-call binary (like hyperkube) holding
// the Kubernetes control plane that platformctl's tests run against: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, all built
// from upstream source. One binary links the shared k8s.io packages once,
// which keeps the first build on a two-core machine to one link instead of five.
//
// Usage: kube-controlplane <component> [flags...], where component is one of etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kwok, and two helpers for the tests:
// pki <dir> (certificates and keys) and kustomize <dir> (`kustomize build`).
//
// With KUBE_CONTROLPLANE_PDEATHSIG set, a component gets SIGTERM when the process that started it
// dies, so a test worker killed mid-run leaves no control plane behind.
package main

import (
	"fmt"
	"os"
	"syscall"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/spf13/pflag"
	"sigs.k8s.io/kwok/pkg/config"
	kwok "sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube-controlplane <etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kwok|pki|kustomize> [args...]")
		os.Exit(2)
	}
	if os.Getenv("KUBE_CONTROLPLANE_PDEATHSIG") != "" {
		_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
		// The parent may have died before prctl took effect: then init adopted us already.
		if errno != 0 || os.Getppid() == 1 {
			os.Exit(1)
		}
	}
	// Each upstream main reads os.Args itself (etcd, kwok's config flags), so
	// the component name becomes argv[0] as if it were its own binary.
	os.Args = os.Args[1:]
	switch os.Args[0] {
	case "etcd":
		etcdmain.Main(os.Args)
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kube-scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "kwok":
		os.Exit(runKwok())
	case "pki":
		os.Exit(runPKI(os.Args))
	case "kustomize":
		os.Exit(runKustomize(os.Args))
	default:
		fmt.Fprintf(os.Stderr, "kube-controlplane: unknown component %q\n", os.Args[0])
		os.Exit(2)
	}
}

// runKwok mirrors sigs.k8s.io/kwok/cmd/kwok/main.go, which is a main package
// and so cannot be imported.
func runKwok() int {
	// The Kubernetes commands linked into this binary register --version on pflag's global set,
	// which cobra would merge into kwok's own (bool) --version flag and fail.
	pflag.CommandLine = pflag.NewFlagSet("kwok", pflag.ExitOnError)
	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}

	ctx := signals.SetupSignalContext()
	ctx, logger := log.InitFlags(ctx, flagset)
	ctx, err := config.InitFlags(ctx, flagset)
	if err != nil {
		logger.Error("Init config flags", "err", err)
		return 1
	}
	command := kwok.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		return 1
	}
	return 0
}
