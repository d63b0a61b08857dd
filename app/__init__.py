"""The Streamlit app: upload a corpus, train SBN and LDA, compare them, explore the units."""
