// etcd, as the etcd release's own main calls etcdmain (the version kube-apiserver's module graph selects).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
