package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// runKustomize prints `kustomize build <dir>` as YAML, with the upstream
// kustomize library (the one kubectl and Argo CD use), so the tests apply the
// overlays `platformctl gitops render` writes exactly as a GitOps agent would.
func runKustomize(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kube-controlplane kustomize <dir>")
		return 2
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomize:", err)
		return 1
	}
	out, err := resources.AsYaml()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomize:", err)
		return 1
	}
	_, _ = os.Stdout.Write(out)
	return 0
}
