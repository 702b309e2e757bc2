from vasscm.cli import main

main()
