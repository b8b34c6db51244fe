//go:build !unix

package sqlstore

import "os"

const noFollow = 0

// tryLock: where flock is not, a SQLite store has no writer's lock (the
// project's deployments are Linux).
func tryLock(*os.File) (bool, error) { return true, nil }

func giveToDatabaseOwner(*os.File, string) {}
