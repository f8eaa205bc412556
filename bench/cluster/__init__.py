"""Two-node benchmarks (issue 18): signaling clients spread over two nodes, and failover
after a node is killed."""
