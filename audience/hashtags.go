package audience

import "github.com/socialaid-vn/gateway/partition"

// HashTags lists the Redis Cluster hash tags of the keys this package writes, one per partition
// (every atomic step stays inside one): /readyz and the Redis health probe write to each.
func (s *Store) HashTags() []string { return partition.Tags() }
