"""Everything that writes input: the Faker generator, file replay, reference-data loading."""
