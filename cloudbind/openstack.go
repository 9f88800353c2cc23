package cloudbind

import (
	"errors"

	"github.com/havip/havip/config"
)

func newOpenStack(c config.Cloud, o Options) (Provider, error) {
	return nil, errors.New("openstack: not built yet")
}
