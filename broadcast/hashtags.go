package broadcast

import "github.com/socialaid-vn/gateway/partition"

// HashTags lists the Redis Cluster hash tags of the keys this package writes, one per partition
// (every atomic step stays inside one), and {bc} of the keys that are not per recipient:
// /readyz and the Redis health probe write to each.
func (s *Service) HashTags() []string { return append(partition.Tags(), "{bc}") }
