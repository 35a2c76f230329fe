"""`mpbench costs`: what parallelism costs on this machine, a model built from those costs, and
advice from the model, checked against a sweep of real tasks.

    probes ──plan──► [CostProbe] ──measure (one pyperf process each)──► costs file
    costs file ──figures──► per-operation costs ──model──► break-even, chunk size, workers
                                                          ──advice──► sentences

`probes` names what is measured, `timing` measures one probe (started as `_worker`), `measure`
runs them in rounds, `store` reads and writes the file, `model` is the arithmetic, `figures` and
`advice` turn a file into numbers and sentences, `render` prints them and `plots` draws them.
"""
