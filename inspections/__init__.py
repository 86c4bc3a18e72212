"""Random inspections (双随机、一公开, issue 14 §1): the list, the two pools, the rules, a draw
anyone can check, the tasks it makes and the results it publishes."""
