package config

import "os"

// secretAccessProblems refuses a cloud credential file that other users
// may read or change, from its access control list, as for the cluster
// key.
func secretAccessProblems(path string, fi os.FileInfo) []string {
	return keyAccessProblems(path, fi)
}
