// Test hosts run Wolverine in Solo mode, and a Solo host that starts releases the ownership of every stored message in
// its database: a host starting in a parallel collection would hand another collection's saga steps to a second run
// while the first still works on them. Collections therefore run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
